"""`anthropic:MODEL`: structured output through a forced tool call whose input schema is the verdict schema."""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import anthropic
from anthropic.types import Message, MessageParam, TextBlock, ToolUseBlock

from judgekit.errors import InputError
from judgekit.llm.base import Completion, FatalError, JudgeRequest, TransientError, parse_retry_after
from judgekit.secrets import clip, redact, register_secret

TOOL_NAME = "record_verdicts"
# Anthropic SDK 2.x dropped `temperature` from messages.create; older releases take it.
_TAKES_TEMPERATURE = "temperature" in inspect.signature(anthropic.AsyncAnthropic(api_key="x").messages.create).parameters


class AnthropicBackend:
    enforces_timeout = True  # the SDK client has the per-call timeout

    def __init__(
        self, model: str, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self.model = model
        self.base_url = base_url
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise InputError("ANTHROPIC_API_KEY is not set", field="--judge")
        register_secret(key)
        self._client = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    def identity(self) -> dict[str, Any]:
        return {"backend": "anthropic", "model": self.model, "base_url": self.base_url or "https://api.anthropic.com"}

    async def complete(self, request: JudgeRequest) -> Completion:
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        turns = [_turn(m) for m in request.messages if m["role"] != "system"]
        try:
            resp = await self._client.messages.create(
                model=self.model,
                system=system,
                messages=turns,
                max_tokens=request.max_tokens,
                **_create_options(request),
            )
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            text = clip(f"HTTP {status}: {exc.message}", 310)
            if status in (408, 409, 429) or status >= 500:
                raise TransientError(text, parse_retry_after(exc.response.headers.get("retry-after"))) from None
            raise FatalError(text) from None
        except anthropic.APITimeoutError:
            raise TransientError("timed out") from None
        except anthropic.APIConnectionError as exc:
            raise TransientError(redact(f"connection error: {exc}")) from None
        return _completion(resp)

    async def aclose(self) -> None:
        await self._client.close()


def _turn(message: dict[str, str]) -> MessageParam:
    if message["role"] == "assistant":
        return {"role": "assistant", "content": message["content"]}
    return {"role": "user", "content": message["content"]}


def _create_options(request: JudgeRequest) -> dict[str, Any]:
    """Temperature (where the SDK takes it) and, with a schema, the forced verdict tool."""
    options: dict[str, Any] = {"temperature": request.temperature} if _TAKES_TEMPERATURE else {}
    if request.schema is not None:  # else free text: a native answer format, or two-phase thinking
        options["tools"] = [{
            "name": TOOL_NAME,
            "description": "Record one verdict per criterion, reasoning first.",
            "input_schema": request.schema,
        }]
        options["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
    return options


def _completion(resp: Message) -> Completion:
    """The tool call's input (else the text blocks), the thinking blocks and the token counts."""
    payload: dict[str, Any] | None = None
    texts: list[str] = []
    thinking: list[str] = []
    for block in resp.content:
        if isinstance(block, ToolUseBlock) and block.name == TOOL_NAME:
            payload = dict(block.input) if isinstance(block.input, dict) else None
        elif isinstance(block, TextBlock):
            texts.append(block.text)
        elif getattr(block, "type", None) == "thinking":
            thinking.append(getattr(block, "thinking", "") or "")
    text = json.dumps(payload) if payload is not None else "\n".join(texts)
    return Completion(
        text=text,
        payload=payload,
        prompt_tokens=int(resp.usage.input_tokens or 0),
        completion_tokens=int(resp.usage.output_tokens or 0),
        reasoning="\n".join(thinking),
        finish_reason=getattr(resp, "stop_reason", None),
    )
