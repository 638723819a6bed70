"""The row pool of a file run: a bounded window of rows taken and not yet written, output in input
order, every row exactly once, even when an early row is slow."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from judgekit.cli.runfile import _RowPool
from judgekit.data.outfile import StdoutSink
from judgekit.data.rows import InputRow
from judgekit.llm.engine import rows_held


class CountingSink(StdoutSink):
    def __init__(self, stream: io.StringIO) -> None:
        super().__init__(stream)
        self.written = 0

    def write(self, index: int, obj: dict[str, Any]) -> int:
        released = super().write(index, obj)
        self.written += released
        return released


def test_rows_taken_and_not_written_stay_within_the_window_and_come_out_in_order():
    n, workers = 3000, 8
    stream = io.StringIO()
    sink = CountingSink(stream)
    started = [0]
    most = [0]

    async def job(row: InputRow) -> dict[str, Any]:
        started[0] += 1
        most[0] = max(most[0], started[0] - sink.written)
        await asyncio.sleep(0.3 if row.index in (0, 1500) else 0)  # a slow row holds back the rows after it
        return {"id": row.id}

    rows = (InputRow(index=i, line=i + 1, id=i, data={}) for i in range(n))
    pool = _RowPool(rows, job, lambda row, why: {"id": row.id}, sink, workers, lambda obj, judged: None)
    asyncio.run(pool.run())
    assert [json.loads(line)["id"] for line in stream.getvalue().splitlines()] == list(range(n))
    assert workers < most[0] <= rows_held(workers)  # the window was used, and never exceeded
