"""The one small interface every judge backend implements.

A backend turns a JudgeRequest (chat messages + the JSON schema of the answer) into a Completion.
It knows its client (OpenAI SDK, Anthropic SDK, vLLM engine, llama.cpp) and nothing else: retries,
concurrency, caching, parsing and scoring live above it, so they are the same for every backend.
Backends translate their SDK's errors into TransientError (worth retrying) or FatalError.

Before a run's first row, the command line asks each backend once whether its server answers
(`check`): a backend of a server checks it without generating anything (OpenAI-compatible servers:
GET /models, else a chat request of no messages, which a judge server refuses as invalid); an
answer no judge server gives (a web server's 501, an HTML page) fails the check. An in-process
model has nothing to check (the default).
"""

from __future__ import annotations

import asyncio
import html
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict

from judgekit.jsonvalue import JSONValue
from judgekit.secrets import clip

# The embedded judge's worker takes this extra argument (an int k) beside llama.cpp's own: the top-k
# log-probabilities of the first generated token. Defined here, not in the worker module, so that
# starting the worker (`python -m judgekit.llm.llama_worker`) never finds that module already imported.
FIRST_TOKEN_TOP_LOGPROBS = "first_token_top_logprobs"

Mode = Literal["pointwise", "pairwise"]  # what a request judges: one response, or a pair


class ServerUsage(TypedDict):
    """How one server of a judge over several servers has done (`Backend.server_usage`)."""

    base_url: str  # credentials masked
    calls: int  # calls sent
    failed: int  # calls failed for the server's own reasons
    set_aside: int  # times set aside
    last_error: str | None


@dataclass(frozen=True)
class JudgeRequest:
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any] | None  # None: free text (a profile's native format, or two-phase thinking)
    mode: Mode
    ids: tuple[str, ...]
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = 0
    logprobs: bool = False

    def cache_fields(self) -> dict[str, Any]:
        """Everything about the request that changes the answer."""
        return {
            "messages": list(self.messages),
            "schema": self.schema,
            "mode": self.mode,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "logprobs": self.logprobs,
        }


@dataclass
class Completion:
    text: str
    payload: dict[str, Any] | None = None  # a parsed object when the backend returns one (forced tool)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # OpenAI `logprobs.content` entries, {token, logprob, top_logprobs: [{token, logprob}]}, whatever the
    # backend's own form (vLLM's Logprob objects are converted in llm.vllm_engine): the soft-verdict reader's input.
    token_logprobs: list[dict[str, Any]] | None = field(default=None, repr=False)
    reasoning: str = ""  # a server's separate reasoning field (vLLM/SGLang reasoning parsers, thinking blocks)
    finish_reason: str | None = None


class TransientError(Exception):
    """A failure worth retrying: rate limit, server error, timeout, lost connection."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """A failure retrying cannot fix: bad request, authentication, unknown model."""


# What identifies a judge in the verdict cache: JSON values only (the key is their JSON form).
Identity = dict[str, JSONValue]


class BackendLike(Protocol):
    """The least a backend must have: the three methods. An object with only these (not a `Backend`
    subclass) still works: `as_backend` gives it every hook's default."""

    def identity(self) -> Identity: ...

    async def complete(self, request: JudgeRequest) -> Completion: ...

    async def aclose(self) -> None: ...


class Backend(ABC):
    """What judgekit asks of a backend: the base class every backend subclasses, its own included.

    A subclass writes `identity` and `complete`; every other member has a default, overridden by a
    backend that needs another (a class attribute, or an attribute set in `__init__`)."""

    max_concurrency: int | None = None
    """The most calls the backend can run at once (None: no limit of its own). A backend that answers one
    call at a time (the embedded model) says 1, so that queued calls wait in the runner, outside their
    timeout, not inside the backend."""

    enforces_timeout: bool = False
    """True when the backend bounds each call by the timeout itself (an HTTP client's timeout, a worker
    killed at the timeout). False: the runner bounds each call, at 1.5 times the timeout."""

    unsent_fields: frozenset[str] = frozenset()
    """The request fields (`JudgeRequest.cache_fields` keys) the backend's API has no place for and never
    sends (Anthropic's SDK 2.x takes no seed): the cache key leaves them out rather than claim a value the
    judge never got."""

    @abstractmethod
    def identity(self) -> Identity:
        """What identifies the judge for the cache: kind, model, endpoint. Never a credential."""

    @abstractmethod
    async def complete(self, request: JudgeRequest) -> Completion:
        """The judge's answer to `request`; TransientError when retrying may help, FatalError when not."""

    async def aclose(self) -> None:
        """Release what the backend holds (clients, processes). The default holds nothing."""
        return None

    def server_usage(self) -> list[ServerUsage] | None:
        """A backend over several servers: per server its URL, calls sent, calls failed for its own
        reasons, times set aside and last error. The default (one server, or none): None."""
        return None

    async def check(self) -> None:
        """Raise FatalError, naming the server (its URL, credentials masked) and why, when it does
        not answer or refuses the credentials. Asked once before a run; generates nothing, costs nothing.
        The default (an in-process model) has nothing to check."""
        return None


class _Adapted(Backend):
    """A `BackendLike` that does not subclass `Backend`: its three methods, its own `check` and hooks
    where it has them (as a subclass would override them), the defaults for the rest."""

    def __init__(self, inner: BackendLike) -> None:
        self.inner = inner
        # The one place hooks are read from an object judgekit does not know the class of.
        self.max_concurrency = getattr(inner, "max_concurrency", None)
        self.enforces_timeout = bool(getattr(inner, "enforces_timeout", False))
        self.unsent_fields = frozenset(getattr(inner, "unsent_fields", frozenset()))

    def identity(self) -> Identity:
        return self.inner.identity()

    async def complete(self, request: JudgeRequest) -> Completion:
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def check(self) -> None:
        check = getattr(self.inner, "check", None)
        if check is not None:
            await check()


def as_backend(backend: Backend | BackendLike) -> Backend:
    """`backend` as a `Backend`: itself when it subclasses `Backend`, else adapted (see `_Adapted`)."""
    return backend if isinstance(backend, Backend) else _Adapted(backend)


async def check_all(backends: Iterable[Backend]) -> None:
    """Check every backend at once; one FatalError with each failed check's reason, if any failed."""
    outcomes = await asyncio.gather(*(b.check() for b in backends), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, FatalError):
            raise outcome
    if reasons := [str(o) for o in outcomes if isinstance(o, FatalError)]:
        raise FatalError("; ".join(reasons))


# Statuses of a server that answered a check but refused the caller: the run's calls would all fail.
REFUSED_CREDENTIALS = (401, 403)
# Statuses of a path the server does not serve.
NOT_SERVED = (404, 405)


# Statuses a judge server answers a chat request of no messages with: taken (200) or refused as invalid.
JUDGE_ANSWERS = (200, 400, 422)
_HTML_HIDDEN = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_HTML_TAG = re.compile(r"<[^<>]*>")


def check_failure(where: str, status: int, message: str, *, json_answer: bool = True) -> FatalError | None:
    """The error for a check answered with `status` (and `message`; `json_answer`: whether its body
    was JSON), or None when that answer shows a server that would take the run's calls."""
    message = one_line(message)
    if status in REFUSED_CREDENTIALS:
        return FatalError(f"{where} refuses the credentials: HTTP {status}: {message}")
    if status in NOT_SERVED:
        return FatalError(f"{where} answers HTTP {status}: {message} (is the URL the API's base, e.g. http://HOST:PORT/v1?)")
    if status not in JUDGE_ANSWERS or not json_answer:
        return FatalError(f"{where} does not look like a judge server: HTTP {status}: {message or 'no message'}")
    return None


def one_line(text: str, limit: int = 300) -> str:
    """`text` as one line of at most `limit` characters, redacted: an HTML page (a web server's or a
    proxy's error page) reduced to its visible words."""
    if "<" in text and ">" in text:
        text = html.unescape(_HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", text)))
    return clip(" ".join(text.split()), limit)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
