"""`openai:MODEL` with an optional base URL: OpenAI, `vllm serve`, llama.cpp server, SGLang.

One code path for all of them: the chat-completions body in the server's dialect
(`llm.openai_dialect`), posted by judgekit's own JSON client (`llm.http`), the answer read from
OpenAI's documented shape. HTTP errors become TransientError (429, 408, 409, 5xx: retried, with
Retry-After) or FatalError (any other status), each with the server's message, redacted.
"""

from __future__ import annotations

import json
import os
import urllib.parse

from judgekit.errors import InputError
from judgekit.llm.base import (
    REFUSED_CREDENTIALS,
    Backend,
    Completion,
    FatalError,
    Identity,
    JudgeRequest,
    TransientError,
    check_failure,
    one_line,
    parse_retry_after,
)
from judgekit.llm.http import DEFAULT_BASE_URL, HTTPStatusError, JSONClient
from judgekit.llm.openai_dialect import FORMS, Dialect, ServerError
from judgekit.secrets import clip, register_secret, register_url, shown_url


class OpenAICompatBackend(Backend):
    enforces_timeout = True  # the HTTP client has the per-call timeout

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.model = model
        register_url(base_url or os.environ.get("OPENAI_BASE_URL"))  # before anything can show it
        self.base_url = checked_url(base_url or os.environ.get("OPENAI_BASE_URL"))
        key = api_key or os.environ.get("OPENAI_API_KEY") or os.environ.get("JUDGEKIT_API_KEY")
        if key is None and self.base_url is None:
            raise InputError("OPENAI_API_KEY is not set (or give --base-url for a local server)", field="--judge")
        register_secret(key)
        self._client = JSONClient(self.base_url or DEFAULT_BASE_URL, api_key=key, timeout=timeout)
        # What this server takes (reasoning models' parameters, the structured-output form).
        self._dialect = Dialect(model)

    def identity(self) -> Identity:
        return {"backend": "openai", "model": self.model, "base_url": shown_url(self.base_url or DEFAULT_BASE_URL)}

    async def complete(self, request: JudgeRequest) -> Completion:
        # Each resend follows a lesson learned (a parameter or a form the server refused); there
        # are at most four lessons, so this ends.
        for _ in range(len(FORMS) + 2):
            body = self._dialect.body(request)
            try:
                return _completion(await self._client.post("/chat/completions", self._dialect.encode(body)))
            except HTTPStatusError as exc:
                error = ServerError.parse(exc.status, exc.text)
                if not self._dialect.learn(error, body):
                    raise _status_error(error, exc.retry_after) from None
        raise FatalError("the server kept refusing the request's parameters")

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self) -> None:
        where = f"the judge server at {shown_url(self.base_url or DEFAULT_BASE_URL)}"
        try:
            status, message, json_answer = await self._probe()
        except TransientError as exc:
            raise FatalError(f"{where} does not answer: {exc}") from None
        if (failure := check_failure(where, status, message, json_answer=json_answer)) is not None:
            raise failure

    async def _probe(self) -> tuple[int, str, bool]:
        """The status, message and whether the body was JSON of GET /models; where that lists no
        models (any answer but a JSON 200 or a refusal of the credentials), of a chat completion of
        no messages, which a chat server refuses (400) without generating anything."""
        try:
            if not isinstance(await self._client.get("/models"), str):
                return 200, "", True
        except HTTPStatusError as exc:
            if exc.status in REFUSED_CREDENTIALS:
                return exc.status, ServerError.parse(exc.status, exc.text).message, True
        try:
            answer = await self._client.post("/chat/completions", {"model": self.model, "messages": []})
            return 200, answer if isinstance(answer, str) else "", not isinstance(answer, str)
        except HTTPStatusError as exc:
            return exc.status, ServerError.parse(exc.status, exc.text).message, _is_json(exc.text)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def checked_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL with a host; InputError naming it otherwise."""
    if url is None:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{shown_url(url)!r} is not a server URL (http://HOST[:PORT]/v1)", field="--base-url")
    return url


def _status_error(error: ServerError, retry_after: str | None) -> Exception:
    status = error.status
    text = one_line(f"HTTP {status}: {error.message}", 310)
    if status in (408, 409, 429) or status >= 500:
        return TransientError(text, retry_after=parse_retry_after(retry_after))
    return FatalError(text)


def _completion(resp: object) -> Completion:
    choices = resp.get("choices") if isinstance(resp, dict) else None
    if not isinstance(resp, dict) or not choices or not isinstance(choices[0], dict):
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
