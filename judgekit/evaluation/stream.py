"""Judging the items of `judgekit eval` as a stream through the row engine (judgekit.llm.engine): each
item's record, in input order, handed to `keep` (which notes the few numbers the statistics need)
and to a sink (the companion JSONL of per-item records, or nothing). So the memory of a run does not
grow with the data: at most the engine's window of records is held, plus a few bytes per item in the
kept outcomes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from judgekit.data.outfile import RowSink
from judgekit.llm.engine import run_rows

T = TypeVar("T")
Record = dict[str, Any]


async def judge_stream(items: Iterable[T], one: Callable[[T], Awaitable[Record]], keep: Callable[[int, Record], None],
                       sink: RowSink, *, workers: int, on_done: Callable[[], None] | None = None) -> None:
    """`one` on every item, its record kept (by the item's position) and written. An item has no failed
    record: any error stops the stream (the engine's policy for a caller without one)."""

    def put(index: int, record: Record) -> None:
        keep(index, record)
        if on_done:
            on_done()
        sink.write(index, record)

    await run_rows(items, one, put, concurrency=workers)
