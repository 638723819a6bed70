"""Running a group of judge calls together, so that a failure leaves no call behind.

`asyncio.gather` returns at the first error and leaves the other calls running; when they fail too
(every call fails once the embedded model's process is dead), nobody reads their errors and asyncio
reports them at exit. `gather_all` waits for every call, then raises the first error.

`in_window` runs a job on each item of a stream of any length with a bounded window: workers take
the next item only while fewer than `window` items are taken and not yet released, so memory does
not grow with the stream.

`gather_bounded` is `gather_all` for a large batch (rows of a `score`, completions of a reward batch)
while starting at most `limit` of them at once: a started call holds its rendered prompt, request
and coroutine frames until its answer comes, and thousands of those waiting for the judge's
concurrency slots made the garbage collector's full passes the largest client cost per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


async def gather_all(*calls: Awaitable[T]) -> list[T]:
    """The results in argument order; if any call raised, the first such error (in argument order),
    raised once every call has finished."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    return _raise_first(results)


async def gather_bounded(calls: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """`gather_all` of `calls`, taken from the iterable (a generator: made only when started) and
    run at most `limit` at a time."""
    todo = enumerate(calls)  # shared by the workers, all on one loop
    results: dict[int, T | BaseException] = {}

    async def worker(i: int, call: Awaitable[T]) -> None:
        while True:
            try:
                results[i] = await call
            except Exception as exc:  # kept for the caller, the other calls go on
                results[i] = exc
            taken = next(todo, None)
            if taken is None:
                return
            i, call = taken

    # As many workers as calls, up to `limit` (a small batch starts no idle ones). A worker ended
    # by a cancellation leaves its share to the others; the cancellation is raised once they are
    # done, as gather_all would.
    first = [taken for taken in (next(todo, None) for _ in range(max(1, limit))) if taken is not None]
    stopped = await asyncio.gather(*(worker(i, call) for i, call in first), return_exceptions=True)
    _raise_first(stopped)
    return _raise_first([results[i] for i in range(len(results))])


def _raise_first(results: list[T | BaseException]) -> list[T]:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[T]", results)


def window_for(workers: int) -> int:
    """Items taken and not yet released, at most: room for a slow item without stalling the others for long."""
    return max(256, 16 * workers)


async def in_window(items: Iterator[T], job: Callable[[T], Awaitable[R]], put: Callable[[int, R], int], *,
                    workers: int) -> None:
    """`job` on every item, `workers` at a time; `put(position, result)` takes each result and returns how
    many results it released (in order, say), and a worker takes an item only while fewer than
    `window_for(workers)` are taken and not yet released. The first error stops every worker from
    taking another item; the items in hand finish and are put (so calls already sent are answered and
    counted), then that error is raised. Cancelling the caller cancels the workers at once."""
    todo = enumerate(items)
    workers = max(1, workers)
    room = asyncio.Semaphore(window_for(workers))
    failed: list[Exception] = []

    async def worker() -> None:
        while True:
            await room.acquire()
            taken = None if failed else next(todo, None)
            if taken is None:
                room.release()
                return
            index, item = taken
            try:
                released = put(index, await job(item))
            except Exception as exc:
                failed.append(exc)
                for _ in range(workers):  # wake the workers waiting for room that the failed item holds
                    room.release()
                return
            for _ in range(released):
                room.release()

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:  # cancelled from outside: every worker ends, each exception retrieved
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failed:
        raise failed[0]
