"""`openai:MODEL` with an optional base URL: OpenAI, `vllm serve`, llama.cpp server, SGLang."""

from __future__ import annotations

import os
from typing import Any

import openai

from judgekit.backends.base import Completion, FatalError, JudgeRequest, TransientError, parse_retry_after
from judgekit.secrets import redact, register_secret
from judgekit.wire import response_format

# Servers started without --api-key accept any key; the SDK insists on one being set.
PLACEHOLDER_KEY = "EMPTY"


class OpenAICompatBackend:
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
            from judgekit.errors import InputError

            raise InputError("OPENAI_API_KEY is not set (or give --base-url for a local server)", field="--judge")
        register_secret(key)
        # max_retries=0: judgekit's own retry policy (tenacity) owns retries, once, for every backend.
        self._client = openai.AsyncOpenAI(
            api_key=key or PLACEHOLDER_KEY, base_url=self.base_url, timeout=timeout, max_retries=0
        )
        self._structured = True

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1"}

    async def complete(self, request: JudgeRequest) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = 5
        if self._structured:
            kwargs["response_format"] = response_format(request.schema)
        try:
            resp = await self._client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            if self._structured and "response_format" in str(exc):
                # A server that rejects json_schema: ask in plain text and parse tolerantly.
                self._structured = False
                return await self.complete(request)
            raise FatalError(redact(f"bad request (400): {_message(exc)}")) from None
        except openai.APIStatusError as exc:
            raise _status_error(exc) from None
        except openai.APITimeoutError:
            raise TransientError("timed out") from None
        except openai.APIConnectionError as exc:
            raise TransientError(redact(f"connection error: {exc}")) from None
        return _completion(resp)

    async def aclose(self) -> None:
        await self._client.close()


def _message(exc: openai.APIStatusError) -> str:
    return str(getattr(exc, "message", "") or exc)[:300]


def _status_error(exc: openai.APIStatusError) -> Exception:
    status = exc.status_code
    text = redact(f"HTTP {status}: {_message(exc)}")
    if status == 429 or status == 408 or status == 409 or status >= 500:
        return TransientError(text, retry_after=parse_retry_after(exc.response.headers.get("retry-after")))
    return FatalError(text)


def _completion(resp: Any) -> Completion:
    if isinstance(resp, str) or not getattr(resp, "choices", None):
        # A server that answered 200 with something that is not a chat completion.
        return Completion(text=str(resp)[:2000])
    message = resp.choices[0].message
    text = message.content or ""
    usage = getattr(resp, "usage", None)
    logprobs = None
    lp = getattr(resp.choices[0], "logprobs", None)
    if lp is not None and getattr(lp, "content", None):
        logprobs = [item.model_dump() for item in lp.content]
    return Completion(
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        token_logprobs=logprobs,
    )
