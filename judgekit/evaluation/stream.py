"""Judging the items of `judgekit eval` as a stream: a bounded window of items in flight
(judgekit.llm.fanout.in_window), each item's record handed to `keep` (which notes the few numbers
the statistics need) and to a sink (the companion JSONL of per-item records, written in input
order, or nothing). So the memory of a run does not grow with the data: at most
max(256, 16 x concurrency) records are held, plus a few bytes per item in the kept outcomes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from judgekit.data.outfile import RowSink
from judgekit.llm.fanout import in_window

T = TypeVar("T")
Record = dict[str, Any]


async def judge_stream(items: Iterable[T], one: Callable[[T], Awaitable[Record]], keep: Callable[[int, Record], None],
                       sink: RowSink, *, workers: int, on_done: Callable[[], None] | None = None) -> None:
    """`one` on every item, its record kept (by the item's position) and written; the first error stops the stream."""

    def put(index: int, record: Record) -> int:
        keep(index, record)
        if on_done:
            on_done()
        return sink.write(index, record)

    await in_window(iter(items), one, put, workers=workers)
