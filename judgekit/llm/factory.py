"""Judge backends and the `--judge SPEC` parser."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from judgekit.errors import InputError
from judgekit.llm.base import Backend, Completion, FatalError, JudgeRequest, TransientError, check_all

__all__ = ["Backend", "Completion", "FatalError", "JudgeRequest", "TransientError", "make_backend"]

SPEC_HELP = "local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | vllm:MODEL"


KINDS = ("local", "openai", "anthropic", "vllm")
IN_PROCESS = ("local", "vllm")  # models run by the judging process itself: no server to check
Server = tuple[str, str | Sequence[str] | None]  # a --judge spec and its base URL(s)


def spec_problem(spec: str) -> str | None:
    """What is wrong with a `--judge` spec, or None when it names a known kind (and a model)."""
    kind, _, model = spec.partition(":")
    if kind not in KINDS:
        return f"unknown judge {spec!r}; use {SPEC_HELP}"
    if kind != "local" and not model:
        return f"judge spec {spec!r} needs a model name ({SPEC_HELP})"
    return None


def make_backend(
    spec: str, *, base_url: str | Sequence[str] | None = None, api_key: str | None = None, timeout: float = 60.0,
    cache_dir: str | None = None, **options: Any,
) -> Backend:
    """Build the backend a `--judge` spec names; with several base URLs (servers of the same
    `openai:` model), one that balances the calls over them. `cache_dir`: the verdict cache's
    directory, beside which the embedded judge keeps its model file's digest."""
    if (problem := spec_problem(spec)) is not None:
        raise InputError(problem, field="--judge")
    urls = [base_url] if isinstance(base_url, str) else list(base_url or ())
    if len(urls) > 1:
        if not spec.startswith("openai:"):
            raise InputError(f"several --base-url are for an openai: judge (OpenAI-compatible servers), not {spec!r}",
                             field="--base-url")
        from judgekit.llm.balance import BalancedBackend

        return BalancedBackend([(url, make_backend(spec, base_url=url, api_key=api_key, timeout=timeout, **options))
                                for url in urls])
    base_url = urls[0] if urls else None
    kind, _, model = spec.partition(":")
    if kind == "local":
        from judgekit.llm.local_llama import LocalLlamaBackend

        return LocalLlamaBackend(model or None, timeout=timeout, cache_dir=cache_dir, **options)
    if kind == "openai":
        from judgekit.llm.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(model, base_url=base_url, api_key=api_key, timeout=timeout, **options)
    if kind == "anthropic":
        from judgekit.llm.anthropic_backend import AnthropicBackend

        return AnthropicBackend(model, base_url=base_url, api_key=api_key, timeout=timeout, **options)
    if kind == "vllm":
        from judgekit.llm.vllm_engine import VLLMEngineBackend

        return VLLMEngineBackend(model, timeout=timeout, **options)
    raise InputError(f"unknown judge {spec!r}; use {SPEC_HELP}", field="--judge")


async def check_servers(servers: Iterable[Server], *, timeout: float) -> None:
    """Ask each server of `servers` whether it answers, as a Judge's check does (Backend.check), but
    building only the backends of servers: an in-process model is neither loaded nor checked. One
    FatalError naming each server that does not answer (its URL, credentials masked)."""
    backends: list[Backend] = []
    try:
        for spec, base_url in servers:
            if spec.partition(":")[0] not in IN_PROCESS:
                backends.append(make_backend(spec, base_url=base_url, timeout=timeout))
        await check_all(backends)
    finally:
        for backend in backends:
            await backend.aclose()
