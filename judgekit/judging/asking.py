"""The one ask -> validate -> re-ask loop, and the cache slot of one question.

Verdicts, rubric generation and rubric-rm generation all ask a model the same way: send the
request through the call runner, read the answer with the caller's parser, and when it is not
usable show the model its answer (cut to MAX_ECHO characters) with the caller's re-ask message, a
bounded number of times. A usable answer is stored in the cache under the caller's key fields
(the request's, plus a purpose that keeps each caller's entries apart), so asking again costs no call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.cache import VerdictCache
from judgekit.llm.runner import CallRunner
from judgekit.secrets import redact

MAX_ECHO = 2000  # how much of an unusable answer is shown back to the model in a re-ask

T = TypeVar("T")
Entry = dict[str, Any]


@dataclass(frozen=True)
class Unusable:
    """An answer the caller's parser could not use, and why (the reason given in the re-ask)."""

    problem: str


@dataclass(frozen=True)
class Asked(Generic[T]):
    value: T | None  # the first usable answer; None when none came within the re-asks
    asks: int
    problem: str | None = None  # why the last answer was unusable (when value is None), redacted


@dataclass(frozen=True)
class CacheSlot:
    """Where the answer to one question is kept (no cache: nothing is kept)."""

    cache: VerdictCache | None
    key: str

    @classmethod
    def of(cls, cache: VerdictCache | None, runner: CallRunner, fields: Entry) -> CacheSlot:
        """The slot of a question asked through `runner` (its key: CallRunner.cache_key)."""
        return cls(cache, runner.cache_key(fields) if cache is not None else "")

    def get(self, runner: CallRunner, decode: Callable[[Entry], T | None]) -> T | None:
        """The cached answer (counted as a cache hit), or None when there is none `decode` accepts."""
        entry = self.cache.get(self.key) if self.cache is not None else None
        value = decode(entry) if entry is not None else None
        if value is not None:
            runner.count_cache_hit()
        return value

    def put(self, entry: Entry) -> None:
        if self.cache is not None:
            self.cache.put(self.key, entry)


NO_CACHE = CacheSlot(None, "")  # the slot of every question when there is no cache


def echoed(completion: Completion) -> dict[str, str]:
    """The model's unusable answer as the assistant turn of a re-ask."""
    return {"role": "assistant", "content": completion.text[:MAX_ECHO]}


async def ask_until_valid(
    runner: CallRunner,
    request: JudgeRequest,
    *,
    parse: Callable[[Completion], T | Unusable],
    reask: Callable[[JudgeRequest, Completion, str], JudgeRequest],
    max_reasks: int,
    slot: CacheSlot,
    encode: Callable[[T], Entry],
    send: Callable[[JudgeRequest], Awaitable[Completion]] | None = None,
) -> Asked[T]:
    """Ask, and re-ask (`reask` builds the next request from the last one, its answer and the
    problem) until `parse` gives a usable answer, which is then cached. A failed call
    (JudgeError) propagates: the caller decides what it means. `send`: how a request goes out
    (default: through `runner`), for a caller that tells apart how a call fails."""
    send = send or runner.call
    problem = "no answer"
    for ask in range(1 + max_reasks):
        if ask:
            runner.count_reask()
        completion = await send(request)
        answer = parse(completion)
        if not isinstance(answer, Unusable):
            if slot.cache is not None:
                slot.put(encode(answer))
            return Asked(answer, ask + 1)
        problem = answer.problem
        request = reask(request, completion, problem)
    return Asked(None, 1 + max_reasks, redact(problem))  # (it may quote the reply)
