"""Running a command over an input file: its rows through the row engine (judgekit.llm.engine) on the
judge's loop, a sink, a progress bar.

Memory does not grow with the input: rows are read one at a time as the engine starts them, and it
holds a bounded window of rows taken and not yet written; each finished row is written once the rows
before it are.

One bad row is one bad row: a row that cannot be encoded, or whose judging fails with its own error
(bad input, a judge failure), becomes an output row without a reward (its reason under
`unscored["*"]`) and the run goes on; a limit or a crash stops the run. A run stopped early keeps every
finished row as a whole line: Ctrl-C (exit 130) or SIGTERM (exit 143) stops the workers, closes the
file and says to run again with --resume; a closed stdout (`-o - | head`) ends quietly with 141,
as a Unix filter killed by SIGPIPE would.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from rich.console import Console

from judgekit.cli.progress import RunProgress
from judgekit.data.outfile import RowSink, StdoutSink, open_file_sink
from judgekit.data.rows import FileRows, InputRow
from judgekit.data.runrecord import RunRecord, add_totals, refuse_input_as_record
from judgekit.errors import RowFailure, RunHalted
from judgekit.jsonvalue import JSONValue
from judgekit.judge import Judge
from judgekit.llm.engine import run_rows
from judgekit.secrets import redact

if TYPE_CHECKING:
    from judgekit.judging.cascade import CascadeReport
    from judgekit.llm.base import ServerUsage

SIGPIPE_EXIT = 128 + 13  # what a shell reports for a filter killed by SIGPIPE


@dataclass
class RunSummary:
    rows: int = 0
    resumed: int = 0
    judged: int = 0
    failed_rows: int = 0  # rows written without being judged (a reason under unscored["*"])
    unscored_criteria: int = 0
    rows_without_reward: int = 0
    seconds: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    cost_note: str | None = None  # why there is no cost
    agreement: dict[str, dict[str, float | None]] = field(default_factory=dict)  # self-agreement, inter-judge alpha
    servers: list[ServerUsage] | None = None  # per judge server, when there are several
    stopped: bool = False  # the run ended before its last row (a limit, a signal)
    notices: dict[str, int] = field(default_factory=dict)  # fallbacks, servers set aside: said once, counted here
    cascade: CascadeReport | None = None  # a cascade's levels: verdicts decided, calls and cost of each

    def note(self, row: OutputRow, judged: bool) -> None:
        """Count one written output row."""
        self.judged += 1
        if judged:
            unscored = row.get("unscored")
            self.unscored_criteria += len(unscored) if isinstance(unscored, Mapping) else 0
        else:
            self.failed_rows += 1
        # A score row without its reward, or a rank row in which any response lacks one.
        rewards = row.get("rewards")
        if ("reward" in row and row["reward"] is None) or (isinstance(rewards, list) and None in rewards):
            self.rows_without_reward += 1


class RunStopped(Exception):
    """The run stopped before its end; the rows finished so far are in the output. The CLI prints
    the run's `summary` to `output` (if any), then `message` (if any), and exits with `exit_code`."""

    def __init__(self, exit_code: int, message: str | None, summary: RunSummary | None = None, output: str = "-") -> None:
        self.exit_code = exit_code
        self.message = message
        self.summary = summary
        self.output = output
        super().__init__(message or f"stopped (exit {exit_code})")


OutputRow = dict[str, JSONValue]  # a row as written out (a result's model_dump)
RowJob = Callable[[InputRow], Awaitable[OutputRow]]
FailedRow = Callable[[InputRow, RowFailure], OutputRow]  # the output row of a row that could not be judged


def open_sink(output: str, rows: FileRows, resume: bool, record: RunRecord | None = None) -> tuple[RowSink, int]:
    """The sink and how many of the input's first rows the output already holds (--resume, checked
    against `record`, see judgekit.data.runrecord)."""
    if output == "-":
        return StdoutSink(), 0
    if record is not None:
        refuse_input_as_record(Path(rows.file), Path(output))
    return open_file_sink(Path(output), Path(rows.file), rows.id_keys, resume=resume, record=record)


class _RowPool:
    """The rows of one run in the row engine, on the judge's loop; `stop()`, from any thread, cancels
    them and `finished` is set once none is left (so the file can be closed without cutting a row)."""

    def __init__(self, rows: Iterator[InputRow], job: RowJob, failed: FailedRow, sink: RowSink, concurrency: int,
                 on_done: Callable[[OutputRow, bool], None]) -> None:
        self._rows = rows
        self._job, self._failed, self._sink, self._on_done = job, failed, sink, on_done
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.finished = threading.Event()

    async def run(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            if not self._stopping:  # stop() came before this task started
                await self._run_rows()
        finally:
            self.finished.set()

    def stop(self) -> None:
        self._stopping = True
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    async def _run_rows(self) -> None:
        def put(index: int, judged: tuple[OutputRow, bool]) -> None:
            self._sink.write(index, judged[0])
            self._on_done(*judged)

        await run_rows(self._rows, self._judge_row, put, concurrency=self._concurrency,
                       failed=lambda row, why: (self._failed(row, why), False))

    async def _judge_row(self, row: InputRow) -> tuple[OutputRow, bool]:
        if row.problem is not None:
            return self._failed(row, RowFailure(row.problem, "input")), False
        return await self._job(row), True


class _Signalled(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: FrameType | None) -> None:
    raise _Signalled(signum)


@contextmanager
def _sigterm_stops_like_ctrl_c() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_signalled)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_pool(judge: Judge, pool: _RowPool, sink: RowSink, output: str) -> None:
    try:
        with _sigterm_stops_like_ctrl_c():
            judge.run(pool.run())
    except KeyboardInterrupt as exc:
        pool.stop()
        pool.finished.wait(timeout=10)
        resume = "; run again with --resume to finish" if output != "-" else ""
        raise RunStopped(128 + getattr(exc, "signum", signal.SIGINT), f"interrupted{resume}") from None
    except BrokenPipeError:
        if not isinstance(sink, StdoutSink):
            raise
        sink.discard()
        raise RunStopped(SIGPIPE_EXIT, None) from None


def run_file(
    judge: Judge,
    rows: FileRows,
    count: int,
    job: RowJob,
    *,
    output: str,
    resume: bool,
    console: Console,
    failed: FailedRow,
    label: str = "judging",
    record: RunRecord | None = None,
) -> RunSummary:
    """Judge the `count` rows of `rows` (checked already, see FileRows.validate) into `output`, once each
    server of the judge has answered (Judge.check_servers: JudgeUnreachable, exit 1, before any row). A
    run stopped early (a limit, the judge gone, a signal) raises RunStopped with its summary so far."""
    started = time.perf_counter()
    sink, done = open_sink(output, rows, resume, record)
    try:
        judge.check_servers()  # once the output is known good (exit 2 first), before the first row
    except BaseException:
        sink.close()
        raise
    summary = RunSummary(rows=max(count, done), resumed=done)  # more: an earlier run with a larger --limit
    try:
        try:
            _judge_rows(judge, rows, count, job, failed, sink, summary, output=output, console=console, label=label)
            sink.finish()
        finally:
            sink.close()
    except RunHalted as exc:  # a limit, or the judge is gone: every call it sent is counted in the summary
        summary.stopped = True
        totals = _with_totals(summary, judge, started, output, record)
        raise RunStopped(exc.exit_code, f"error: {redact(str(exc))}", totals, output) from None
    except RunStopped as exc:
        if exc.exit_code != SIGPIPE_EXIT:  # a closed stdout ends quietly
            summary.stopped = True
            exc.summary, exc.output = _with_totals(summary, judge, started, output, record), output
        raise
    return _with_totals(summary, judge, started, output, record)


def _judge_rows(judge: Judge, rows: FileRows, count: int, job: RowJob, failed: FailedRow, sink: RowSink, summary: RunSummary,
                *, output: str, console: Console, label: str) -> None:
    progress = RunProgress(label, summary.rows, summary.resumed, lambda: (judge.stats.calls, judge.stats.cache_hits), console)

    def on_done(obj: OutputRow, judged: bool) -> None:
        summary.note(obj, judged)
        progress.advance()

    try:
        with progress.shown():
            pool = _RowPool(rows.rows(start=summary.resumed), job, failed, sink, judge.config.concurrency, on_done)
            _run_pool(judge, pool, sink, output)
    finally:
        summary.notices = dict(progress.notices.counts)


def _with_totals(summary: RunSummary, judge: Judge, started: float, output: str = "-",
                 record: RunRecord | None = None) -> RunSummary:
    """The summary with the run's time, calls, tokens, cost, agreement and servers (kept in the run's record
    too, for its page)."""
    summary.seconds = time.perf_counter() - started
    summary.stats = judge.stats.as_dict()
    summary.cost_usd = judge.cost_usd
    summary.cost_note = judge.pricing.reason if summary.cost_usd is None else None  # the price table read only if needed
    summary.agreement = judge.agreement.as_dict()
    summary.servers = judge.server_usage()
    summary.cascade = judge.cascade.as_dict() if judge.cascade is not None else None
    if output != "-" and record is not None:
        add_totals(Path(output), {"seconds": round(summary.seconds, 3), "stats": summary.stats, "cost_usd": summary.cost_usd,
                                  "cost_note": summary.cost_note, "rows": summary.rows, "stopped": summary.stopped})
    return summary
