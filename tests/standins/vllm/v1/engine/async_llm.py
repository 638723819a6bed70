"""Stand-in for vllm.v1.engine.async_llm.AsyncLLM (0.33.0).

`generate(prompt, sampling_params, request_id)` is an async generator of RequestOutput; when the
caller is cancelled it aborts the request (`abort`) and re-raises, as vLLM's does. What the "model"
answers is `AsyncLLM.model`, set by the test: an async function (prompt text, SamplingParams) ->
(text, token ids, per-position logprobs or None). Every start and abort is logged in `events`, and
`max_running` counts how many requests were in the engine at once.
"""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, ClassVar

from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMValidationError
from vllm.logprobs import SampleLogprobs
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.renderers import BaseRenderer
from vllm.sampling_params import RequestOutputKind, SamplingParams
from vllm.v1.engine.exceptions import EngineDeadError

Model = Callable[[str, SamplingParams], Awaitable[tuple[str, list[int], SampleLogprobs | None]]]


class AsyncLLM:
    model: ClassVar[Model]
    instances: ClassVar[list["AsyncLLM"]] = []

    def __init__(self, engine_args: AsyncEngineArgs) -> None:
        self.engine_args = engine_args
        self.renderer = BaseRenderer()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.max_running = 0
        self.dead = False
        self.shut_down = False
        AsyncLLM.instances.append(self)

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs, start_engine_loop: bool = True,
                         usage_context: Any = None, stat_loggers: Any = None) -> "AsyncLLM":
        return cls(engine_args)

    async def generate(self, prompt: Any, sampling_params: SamplingParams, request_id: str, *,
                       prompt_text: str | None = None, priority: int = 0, **kwargs: Any) -> AsyncGenerator[RequestOutput, None]:
        if self.dead:
            raise EngineDeadError()
        if not (isinstance(prompt, dict) and prompt.get("type") == "token"):
            raise VLLMValidationError(f"expected a rendered engine input, got {type(prompt).__name__}")
        if not isinstance(sampling_params, SamplingParams):
            raise VLLMValidationError("sampling_params must be a SamplingParams")
        self.events.append(("start", request_id))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            text, token_ids, logprobs = await type(self).model(prompt["prompt"], sampling_params)
            if sampling_params.output_kind is not RequestOutputKind.FINAL_ONLY:
                partial = CompletionOutput(0, "", [], None, None)
                yield RequestOutput(request_id, prompt["prompt"], prompt["prompt_token_ids"], None, [partial], False)
            out = CompletionOutput(0, text, token_ids, None, logprobs if sampling_params.logprobs is not None else None, "stop")
            yield RequestOutput(request_id, prompt["prompt"], prompt["prompt_token_ids"], None, [out], True)
        except (asyncio.CancelledError, GeneratorExit):
            await self.abort(request_id, internal=True)
            raise
        finally:
            self.running -= 1

    async def abort(self, request_id: str, internal: bool = False) -> None:
        self.events.append(("abort", request_id))

    def shutdown(self, timeout: float | None = None) -> None:
        self.shut_down = True
