"""`vllm:MODEL`: an in-process vLLM engine through its documented offline API (`vllm.LLM.chat`).

Concurrent judge calls are gathered into one `LLM.chat` batch (vLLM schedules a batch far better
than one request at a time); structured output uses `StructuredOutputsParams(json=schema)` on
vLLM >= 0.12 and `GuidedDecodingParams(json=schema)` on older releases. Needs the `vllm` extra and a GPU.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from judgekit.errors import InputError
from judgekit.llm.base import Completion, FatalError, JudgeRequest


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise InputError("the vllm: judge needs vLLM: pip install 'judgekit[vllm]' (and a GPU)", field="--judge") from None
    return vllm


def structured_sampling_params(vllm: Any, request: JudgeRequest) -> Any:
    """SamplingParams asking for JSON that follows the request's schema, on old and new vLLM."""
    base: dict[str, Any] = {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
    }
    if request.logprobs:
        base["logprobs"] = 5
    sampling = vllm.sampling_params
    if request.schema is None:  # free text: a profile's native answer format, or two-phase thinking
        return vllm.SamplingParams(**base)
    if hasattr(sampling, "StructuredOutputsParams"):
        return vllm.SamplingParams(**base, structured_outputs=sampling.StructuredOutputsParams(json=request.schema))
    return vllm.SamplingParams(**base, guided_decoding=sampling.GuidedDecodingParams(json=request.schema))


class VLLMEngineBackend:
    def __init__(self, model: str, *, max_batch: int = 256, **engine_kwargs: Any) -> None:
        self.model = model
        self.max_batch = max_batch
        self._engine_kwargs = engine_kwargs
        self._vllm = _import_vllm()
        self._llm: Any = None
        self._lock = threading.Lock()
        self._pending: list[tuple[JudgeRequest, asyncio.Future[Completion]]] = []
        self._flush_scheduled = False

    def identity(self) -> dict[str, Any]:
        return {"backend": "vllm", "model": self.model, "engine": {k: str(v) for k, v in sorted(self._engine_kwargs.items())}}

    def _engine(self) -> Any:
        with self._lock:
            if self._llm is None:
                self._llm = self._vllm.LLM(model=self.model, **self._engine_kwargs)
            return self._llm

    async def complete(self, request: JudgeRequest) -> Completion:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Completion] = loop.create_future()
        self._pending.append((request, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # Let every call made in this event-loop turn join the batch before it is sent.
            loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        return await future

    async def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        if self._pending:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))
        try:
            outputs = await asyncio.to_thread(self._run_batch, [r for r, _ in batch])
        except Exception as exc:  # the engine's failure is every caller's failure
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(FatalError(f"vLLM engine error: {type(exc).__name__}: {exc}"))
            return
        for (_, fut), completion in zip(batch, outputs):
            if not fut.done():
                fut.set_result(completion)

    def _run_batch(self, requests: list[JudgeRequest]) -> list[Completion]:
        llm = self._engine()
        params = [structured_sampling_params(self._vllm, r) for r in requests]
        conversations = [list(r.messages) for r in requests]
        with self._lock:
            results = llm.chat(conversations, sampling_params=params, use_tqdm=False)
        return [_completion(out) for out in results]

    async def aclose(self) -> None:
        self._llm = None


def _completion(out: Any) -> Completion:
    first = out.outputs[0]
    logprobs = None
    if getattr(first, "logprobs", None):
        logprobs = [
            {str(tok_id): getattr(lp, "logprob", lp) for tok_id, lp in step.items()} for step in first.logprobs
        ]
    return Completion(
        text=first.text,
        prompt_tokens=len(getattr(out, "prompt_token_ids", None) or []),
        completion_tokens=len(getattr(first, "token_ids", None) or []),
        token_logprobs=logprobs,
    )
