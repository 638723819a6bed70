"""Sending one judge request: a concurrency limit, a per-call timeout and one retry policy.

The retry policy (tenacity) retries only TransientError (rate limits, 5xx, timeouts, lost
connections), a bounded number of times, with jittered exponential backoff; when the server sends
Retry-After, that wait is honoured (up to a cap). The slot in the concurrency limit is released
while waiting, so one slow retry never blocks the others.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from judgekit.errors import JudgeError
from judgekit.llm.base import Backend, BackendLike, Completion, FatalError, JudgeRequest, TransientError, as_backend, one_line
from judgekit.llm.budget import Budget
from judgekit.llm.cache import cache_key
from judgekit.llm.pricing import Pricing
from judgekit.llm.usage import RunStats, ScopeUsage
from judgekit.llm.young_gc import calls_in_flight

if TYPE_CHECKING:  # tenacity is loaded by the first retry
    from tenacity import RetryCallState


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 30.0
    max_retry_after: float = 60.0


class _WaitRetryAfterOrJitter:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        from tenacity import wait_random_exponential

        self._jitter = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def __call__(self, state: RetryCallState) -> float:
        backoff = self._jitter(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        if retry_after is not None:
            return min(max(float(retry_after), backoff), self.policy.max_retry_after)
        return backoff


ADMISSION_SPARE = 32  # questions admitted beyond ADMISSION_PER_SLOT per call slot (CallRunner.admission)
# Questions admitted per call slot: enough that the rows the row engine starts at once (engine.rows_started,
# about one per slot) with up to this many calls each never wait for admission. A question that
# waits here costs more client CPU than the wait saves: the share of judgekit's own CPU per call
# fell by a tenth when 5-criterion rows stopped waiting here (benchmarks/throughput.py).
ADMISSION_PER_SLOT = 8


class CallRunner:
    def __init__(
        self, backend: Backend | BackendLike, *, concurrency: int, timeout: float | None, policy: RetryPolicy, stats: RunStats,
        budget: Budget | None = None, pricing: Pricing | None = None, shared_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.backend = as_backend(backend)
        self.budget = budget or Budget()
        self.pricing = pricing or Pricing()
        self.policy = policy
        self.timeout = timeout
        self.stats = stats
        self.scopes: tuple[ScopeUsage, ...] = ()  # e.g. an eval subset's, a cascade level's
        # A backend that can only run one call at a time (llama.cpp in-process) says so, so that
        # queued calls wait here, outside their timeout, instead of inside the backend.
        limit = max(1, min(concurrency, self.backend.max_concurrency or concurrency))
        # `shared_slots`: the calls in flight of the whole run (every judge of a panel, the generator),
        # so that no more than `concurrency` calls can pass a spending limit together. A backend
        # with a lower limit also waits for its own slots first (a queue for the embedded model then
        # holds none of the shared ones).
        if shared_slots is not None and limit >= concurrency:
            self._slots, self._shared = shared_slots, None
        else:
            self._slots, self._shared = asyncio.Semaphore(limit), shared_slots
        # Questions being asked at once (their prompts rendered, their requests built): a question
        # waits here before any of that, so thousands queued for the call slots (a fan-out that
        # starts all its questions at once: rank's pairs, best-of-n) hold next to nothing; the
        # garbage collector's passes over what they held cost more client CPU than the requests.
        # More than the slots, so that questions waiting out a retry's backoff (or between a
        # re-ask's calls) leave the slots to others, as the slots alone did.
        self.admission = asyncio.Semaphore(ADMISSION_PER_SLOT * limit + ADMISSION_SPARE)

    async def _attempt(self, request: JudgeRequest) -> Completion:
        async with self._slots:
            if self._shared is None:
                with calls_in_flight():
                    return await self._send(request)
            async with self._shared:
                with calls_in_flight():
                    return await self._send(request)

    async def _send(self, request: JudgeRequest) -> Completion:
        self.budget.check(self.stats.calls)
        self.stats.calls += 1
        if self.timeout is None or self.backend.enforces_timeout:
            return await self.backend.complete(request)
        try:
            # A second line of defence; the SDK clients have their own timeout as well.
            return await asyncio.wait_for(self.backend.complete(request), self.timeout * 1.5)
        except asyncio.TimeoutError:
            raise TransientError("timed out") from None

    def cache_key(self, fields: Mapping[str, object]) -> str:
        """The cache key of a question asked through this runner: the backend's identity and the
        request's `fields` as the backend sends them: without the fields its API has no place for
        (`Backend.unsent_fields`)."""
        unsent = self.backend.unsent_fields
        return cache_key(self.backend.identity(), {k: v for k, v in fields.items() if k not in unsent})

    def counting_into(self, scope: ScopeUsage) -> CallRunner:
        """This runner (same backend, concurrency limit, retries and run stats), also counting into `scope`
        (besides the scopes it counts into already)."""
        scoped = copy.copy(self)
        scoped.scopes = (*self.scopes, scope)
        return scoped

    def count_cache_hit(self) -> None:
        """An answer served from the cache instead of a call."""
        self.stats.cache_hits += 1
        for scope in self.scopes:
            scope.cache_hits += 1

    def count_reask(self) -> None:
        self.stats.reasks += 1

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1

    async def call(self, request: JudgeRequest) -> Completion:
        """The completion as the server sent it (parsed as it is: the free text made from it is
        redacted by whoever makes it, judgekit.secrets), or JudgeError (with a redacted reason)
        once retries are spent."""
        for scope in self.scopes:
            scope.calls += 1
        try:
            try:
                # Most calls succeed at once: the retry machinery is built only for those that do not
                # (building it costs as much CPU as the HTTP request itself at high concurrency).
                completion = await self._attempt(request)
            except TransientError as exc:
                completion = await self._retried(request, exc)
        except TransientError as exc:
            raise self._failed(f"{exc} (gave up after {self.policy.max_attempts} attempts)") from None
        except FatalError as exc:
            raise self._failed(str(exc)) from None
        self.stats.succeeded_calls += 1
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        self.budget.spend(self.pricing, completion.prompt_tokens, completion.completion_tokens)
        for scope in self.scopes:
            scope.prompt_tokens += completion.prompt_tokens
            scope.completion_tokens += completion.completion_tokens
        return completion

    def _failed(self, reason: str) -> JudgeError:
        """A call failed for good: counted, its reason kept (with the server's URL) for the run's summary."""
        reason = one_line(reason, 1000)  # redacted, and one line: a server's error page can be a whole HTML page
        url = self.backend.identity().get("base_url")
        self.stats.note_failure(f"{url}: {reason}" if isinstance(url, str) else reason)
        return JudgeError(reason)

    async def _retried(self, request: JudgeRequest, first_failure: TransientError) -> Completion:
        """The request sent again under the retry policy, its first attempt having failed so."""
        failed = [first_failure]

        async def attempt(request: JudgeRequest) -> Completion:
            if failed:  # the first attempt, already made, replayed as tenacity's first failure
                raise failed.pop()
            return await self._attempt(request)

        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt  # on a first failure only

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=_WaitRetryAfterOrJitter(self.policy),
            before_sleep=self._count_retry,
            reraise=True,
        )
        completion: Completion = await retrying(attempt, request)
        return completion

