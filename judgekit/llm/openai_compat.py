"""`openai:MODEL` with an optional base URL: OpenAI, `vllm serve`, llama.cpp server, SGLang."""

from __future__ import annotations

import os
from typing import Any

import openai

from judgekit.errors import InputError
from judgekit.llm.base import Completion, FatalError, JudgeRequest, TransientError, parse_retry_after
from judgekit.llm.openai_dialect import FORMS, Dialect, ServerError
from judgekit.secrets import clip, redact, register_secret

# Servers started without --api-key accept any key; the SDK insists on one being set.
PLACEHOLDER_KEY = "EMPTY"


class OpenAICompatBackend:
    enforces_timeout = True  # the SDK client has the per-call timeout

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = api_key or os.environ.get("OPENAI_API_KEY") or os.environ.get("JUDGEKIT_API_KEY")
        if key is None and self.base_url is None:
            raise InputError("OPENAI_API_KEY is not set (or give --base-url for a local server)", field="--judge")
        register_secret(key)
        # max_retries=0: judgekit's own retry policy (tenacity) owns retries, once, for every backend.
        self._client = openai.AsyncOpenAI(
            api_key=key or PLACEHOLDER_KEY, base_url=self.base_url, timeout=timeout, max_retries=0,
            **_fast_http_client(),
        )
        # What this server takes (reasoning models' parameters, the structured-output form).
        self._dialect = Dialect(model)

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1"}

    async def complete(self, request: JudgeRequest) -> Completion:
        # Each resend follows a lesson learned (a parameter or a form the server refused); there
        # are at most four lessons, so this ends.
        for _ in range(len(FORMS) + 2):
            body = self._dialect.body(request)
            try:
                # The SDK's documented generic `post`: the same client, auth and error types as
                # chat.completions.create, without re-walking the JSON schema into typed params and the
                # reply into typed models on every call (most of the client's CPU at high concurrency).
                resp = await self._client.post("/chat/completions", body=body, cast_to=object)
            except openai.APIStatusError as exc:
                error = ServerError.parse(exc.status_code, exc.response.text)
                if self._dialect.learn(error, body):
                    continue
                raise _status_error(exc, error) from None
            except openai.APITimeoutError as exc:
                raise TransientError(_timeout_reason(exc)) from None
            except openai.APIConnectionError as exc:
                raise TransientError(redact(f"connection error: {exc}")) from None
            return _completion(resp)
        raise FatalError("the server kept refusing the request's parameters")

    async def aclose(self) -> None:
        await self._client.close()


def _fast_http_client() -> dict[str, Any]:
    """The SDK's aiohttp transport (openai[aiohttp]) where installed: at 64+ requests in flight it
    costs about half the CPU per request of the default httpx pool."""
    factory = getattr(openai, "DefaultAioHttpClient", None)
    if factory is None:
        return {}
    try:
        return {"http_client": factory()}
    except RuntimeError:  # the aiohttp extra is not installed
        return {}


def _timeout_reason(exc: Exception) -> str:
    cause = exc.__cause__
    if cause is not None and "Connect" in type(cause).__name__:
        # The aiohttp transport reports a refused connection as a connect timeout.
        return clip(f"connection failed: {cause}", 300)
    return "timed out"


def _status_error(exc: openai.APIStatusError, error: ServerError) -> Exception:
    status = exc.status_code
    text = clip(f"HTTP {status}: {error.message}", 310)
    if status == 429 or status == 408 or status == 409 or status >= 500:
        return TransientError(text, retry_after=parse_retry_after(exc.response.headers.get("retry-after")))
    return FatalError(text)


def _completion(resp: Any) -> Completion:
    choices = resp.get("choices") if isinstance(resp, dict) else None
    if not choices or not isinstance(choices[0], dict):
        # A server that answered 200 with something that is not a chat completion.
        return Completion(text=clip(str(resp), 2000))
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content") or ""
    # vLLM's and SGLang's reasoning parsers return the thinking apart from the answer: older vLLM
    # and DeepSeek's API as `reasoning_content`, newer vLLM and OpenRouter as `reasoning`.
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    usage = resp.get("usage") or {}
    logprobs = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    return Completion(
        text=text if isinstance(text, str) else str(text),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        token_logprobs=logprobs or None,
        reasoning=reasoning if isinstance(reasoning, str) else "",
        finish_reason=choice.get("finish_reason"),
    )
