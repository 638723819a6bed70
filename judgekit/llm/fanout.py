"""Running a group of judge calls together, so that a failure leaves no call behind.

`asyncio.gather` returns at the first error and leaves the other calls running; when they fail too
(every call fails once the embedded model's process is dead), nobody reads their errors and asyncio
reports them at exit. `gather_all` waits for every call, then raises the first error.

Many rows (each with its own calls) run in the row engine, judgekit.llm.engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


async def gather_all(*calls: Awaitable[T]) -> list[T]:
    """The results in argument order; if any call raised, the first such error (in argument order),
    raised once every call has finished."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    return _raise_first(results)


def _raise_first(results: list[T | BaseException]) -> list[T]:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[T]", results)
