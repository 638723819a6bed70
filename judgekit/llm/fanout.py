"""Running a group of judge calls together, so that a failure leaves no call behind.

`asyncio.gather` returns at the first error and leaves the other calls running; when they fail too
(every call fails once the embedded model's process is dead), nobody reads their errors and asyncio
reports them at exit. `gather_all` waits for every call, then raises the first error.

`in_window` runs a job on each item of a stream of any length with a bounded window: workers take
the next item only while fewer than `window` items are taken and not yet released, so memory does
not grow with the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")


async def gather_all(*calls: Awaitable[T]) -> list[T]:
    """The results in argument order; if any call raised, the first such error (in argument order),
    raised once every call has finished."""
    results = await asyncio.gather(*calls, return_exceptions=True)
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
    `window_for(workers)` are taken and not yet released. The first error stops every worker and is raised."""
    todo = enumerate(items)
    room = asyncio.Semaphore(window_for(workers))

    async def worker() -> None:
        while True:
            await room.acquire()
            taken = next(todo, None)
            if taken is None:
                room.release()
                return
            index, item = taken
            for _ in range(put(index, await job(item))):
                room.release()

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, workers))]
    try:
        await asyncio.gather(*tasks)
    finally:  # one worker failing ends them all, each exception retrieved
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
