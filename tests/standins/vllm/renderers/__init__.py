"""Stand-in for vllm.renderers (0.33.0): ChatParams, and the renderer AsyncLLM holds as `.renderer`
(`render_chat_async` turns conversations into token inputs with the model's chat template; here a
ChatML-like template and one token id per whitespace-separated piece)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ChatParams:
    chat_template: str | None = None
    chat_template_content_format: str = "auto"
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    media_io_kwargs: dict[str, dict[str, Any]] | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    tool_choice: Any | None = None
    response_format: Any | None = None


class BaseRenderer:
    async def render_chat_async(self, conversations: Sequence[list[dict[str, Any]]], chat_params: ChatParams,
                                tok_params: object = None, *, prompt_extras: dict[str, Any] | None = None,
                                skip_mm_cache: bool = False) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        inputs = []
        for conversation in conversations:
            text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in conversation)
            if chat_params.chat_template_kwargs.get("add_generation_prompt"):
                text += "<|im_start|>assistant\n"
            inputs.append({"type": "token", "prompt_token_ids": list(range(len(text.split()))), "prompt": text})
        return [list(c) for c in conversations], inputs
