"""`vllm:MODEL`: an in-process vLLM engine (written against vLLM 0.33), through its asyncio engine `AsyncLLM`.

Each judge call is one `AsyncLLM.generate` request; vLLM's scheduler batches the requests in flight
(continuous batching), so judgekit keeps no batch of its own. The conversation is rendered with the
model's chat template by the engine's renderer (`render_chat_async`, what `LLM.chat` does), and
structured output is `SamplingParams(structured_outputs=StructuredOutputsParams(json=schema))`.

Each request is bounded by its own timeout: when it runs out, the request is cancelled, which makes
`generate` abort it in the engine before the call fails, so a retry never runs beside it.
Token log-probabilities (vLLM's `Logprob` objects, keyed by token id) are turned into the
OpenAI-shaped entries the soft-verdict reader takes, here at the edge. Needs the `vllm` extra and a GPU.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from judgekit.errors import InputError
from judgekit.llm.base import Backend, Completion, FatalError, Identity, JudgeRequest, TransientError

TOP_LOGPROBS = 5  # alternatives per generated token, as the OpenAI-compatible backends ask
_MODULES = ("sampling_params", "engine.arg_utils", "renderers", "exceptions", "v1.engine.async_llm", "v1.engine.exceptions")
_request_ids = itertools.count()


class _VLLM:
    """The vLLM modules judgekit uses, each imported by name (vLLM's package imports its submodules lazily)."""

    def __init__(self) -> None:
        try:
            loaded = {name: importlib.import_module(f"vllm.{name}") for name in _MODULES}
        except ImportError as exc:
            raise InputError(f"the vllm: judge needs vLLM 0.33: pip install 'judgekit[vllm]' (and a GPU) ({exc})",
                             field="--judge") from None
        self.sampling: ModuleType = loaded["sampling_params"]
        self.args: ModuleType = loaded["engine.arg_utils"]
        self.renderers: ModuleType = loaded["renderers"]
        self.errors: ModuleType = loaded["exceptions"]
        self.async_llm: ModuleType = loaded["v1.engine.async_llm"]
        self.engine_errors: ModuleType = loaded["v1.engine.exceptions"]


def sampling_params(vllm: _VLLM, request: JudgeRequest) -> Any:
    """SamplingParams for one request: only the final output, JSON following the schema when there is one."""
    sampling = vllm.sampling
    options: dict[str, Any] = {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "output_kind": sampling.RequestOutputKind.FINAL_ONLY,
    }
    if request.logprobs:
        options["logprobs"] = TOP_LOGPROBS
    if request.schema is not None:  # else free text: a profile's native answer format, or two-phase thinking
        options["structured_outputs"] = sampling.StructuredOutputsParams(json=request.schema)
    return sampling.SamplingParams(**options)


class VLLMEngineBackend(Backend):
    enforces_timeout = True  # each request is bounded (and aborted in the engine) here

    def __init__(self, model: str, *, timeout: float | None = 60.0, **engine_kwargs: object) -> None:
        self.model = model
        self.timeout = timeout
        self._engine_kwargs = engine_kwargs
        self._vllm = _VLLM()
        self._engine: Any = None
        self._start_failure: str | None = None

    def identity(self) -> Identity:
        return {"backend": "vllm", "model": self.model, "engine": {k: str(v) for k, v in sorted(self._engine_kwargs.items())}}

    def _started(self) -> Any:
        # Built on the first call, on the judge's event loop (AsyncLLM starts its output handler on the
        # loop of its first request). Loading the model blocks that loop once, outside any call's timeout.
        # An engine that cannot start fails every call with the reason, without loading the model again.
        if self._start_failure is not None:
            raise FatalError(self._start_failure)
        if self._engine is None:
            try:
                args = self._vllm.args.AsyncEngineArgs(model=self.model, **self._engine_kwargs)
                self._engine = self._vllm.async_llm.AsyncLLM.from_engine_args(args)
            except Exception as exc:  # a bad engine argument, no GPU, a model that cannot be loaded
                self._start_failure = f"the vLLM engine could not start: {type(exc).__name__}: {exc}"
                raise FatalError(self._start_failure) from None
        return self._engine

    async def complete(self, request: JudgeRequest) -> Completion:
        engine = self._started()
        try:
            return await asyncio.wait_for(self._generate(engine, request), self.timeout)
        except asyncio.TimeoutError:
            raise TransientError(f"timed out after {self.timeout} s (the request was aborted in the engine)") from None
        except self._vllm.engine_errors.EngineDeadError as exc:
            raise FatalError(f"vLLM engine died: {exc}") from None
        except self._vllm.errors.VLLMClientError as exc:
            raise FatalError(f"vLLM rejected the request: {type(exc).__name__}: {exc}") from None
        except self._vllm.errors.VLLMError as exc:  # EngineGenerateError, a full queue: worth another try
            raise TransientError(f"vLLM: {type(exc).__name__}: {exc}") from None

    async def _generate(self, engine: Any, request: JudgeRequest) -> Completion:
        chat = self._vllm.renderers.ChatParams(
            chat_template_kwargs={"add_generation_prompt": True, "continue_final_message": False})
        _, (prompt,) = await engine.renderer.render_chat_async([list(request.messages)], chat)
        final = None
        async for output in engine.generate(prompt, sampling_params(self._vllm, request), f"judgekit-{next(_request_ids)}"):
            final = output
        if final is None or not final.outputs:
            raise TransientError("vLLM finished the request without an output")
        return _completion(final)

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()


def _completion(out: Any) -> Completion:
    first = out.outputs[0]
    return Completion(
        text=first.text,
        prompt_tokens=len(out.prompt_token_ids or []),
        completion_tokens=len(first.token_ids or []),
        token_logprobs=openai_token_logprobs(first.token_ids, first.logprobs),
        finish_reason=first.finish_reason,
    )


def openai_token_logprobs(token_ids: Sequence[int], positions: Sequence[Mapping[int, Any]] | None) -> list[dict[str, Any]] | None:
    """vLLM's per-position `{token_id: Logprob(logprob, rank, decoded_token)}` as OpenAI `logprobs.content`
    entries (`{token, logprob, top_logprobs: [{token, logprob}]}`), the chosen token being `token_ids[i]`.
    None when there are none, or a chosen token has no text (a request made with `detokenize=False`)."""
    if not positions:
        return None
    entries: list[dict[str, Any]] = []
    for token_id, position in zip(token_ids, positions):
        chosen = (position or {}).get(token_id)
        if chosen is None or chosen.decoded_token is None:
            return None
        ranked = sorted(position.values(), key=lambda lp: lp.rank if lp.rank is not None else len(position))
        top = [{"token": lp.decoded_token or "", "logprob": lp.logprob} for lp in ranked]
        entries.append({"token": chosen.decoded_token, "logprob": chosen.logprob, "top_logprobs": top})
    return entries
