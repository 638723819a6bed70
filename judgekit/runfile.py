"""Running a command over a JSONL file: a pool of row workers on the judge's loop, a sink, a progress bar."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from judgekit.judge import Judge
from judgekit.outfile import FileSink, RowSink, StdoutSink, id_key, rows_already_done
from judgekit.rows import InputRow


@dataclass
class RunSummary:
    rows: int = 0
    resumed: int = 0
    judged: int = 0
    unscored_criteria: int = 0
    rows_without_reward: int = 0
    seconds: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)


RowJob = Callable[[InputRow], Awaitable[dict[str, Any]]]


def open_sink(output: str, rows: list[InputRow], resume: bool) -> tuple[RowSink, set[str]]:
    if output == "-":
        return StdoutSink(), set()
    path = Path(output)
    done = rows_already_done(path, {id_key(r.id) for r in rows}) if resume else set()
    return FileSink(path, append=resume), done


async def _run_rows(
    rows: list[InputRow], job: RowJob, sink: RowSink, workers: int, on_done: Callable[[dict[str, Any]], None]
) -> None:
    queue: asyncio.Queue[InputRow] = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)

    async def worker() -> None:
        while True:
            try:
                row = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            obj = await job(row)
            sink.write(row.index, obj)
            on_done(obj)

    await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(rows))))))


def run_file(
    judge: Judge,
    rows: list[InputRow],
    job: RowJob,
    *,
    output: str,
    resume: bool,
    console: Console,
    label: str = "judging",
) -> RunSummary:
    started = time.perf_counter()
    sink, done = open_sink(output, rows, resume)
    todo = [r for r in rows if id_key(r.id) not in done]
    summary = RunSummary(rows=len(rows), resumed=len(rows) - len(todo))

    progress = Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=False,
    )

    def on_done(obj: dict[str, Any]) -> None:
        summary.judged += 1
        summary.unscored_criteria += len(obj.get("unscored", {}))
        if "reward" in obj and obj["reward"] is None:
            summary.rows_without_reward += 1
        progress.advance(task)

    with progress:
        task = progress.add_task(label, total=len(rows), completed=summary.resumed)
        try:
            judge.run(_run_rows(todo, job, sink, judge.config.concurrency, on_done))
        finally:
            if isinstance(sink, FileSink):
                sink.close()
    sink.finish([r.id for r in rows])
    summary.seconds = time.perf_counter() - started
    summary.stats = judge.stats.as_dict()
    return summary
