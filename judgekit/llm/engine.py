"""The row engine: one job per row (a file's rows, a batch's completions, an eval's items), many at once,
every result handed back in input order, with bounded memory and one exception policy. Every place
that judges many rows runs them here: `Judge.score`/`compare`, the reward batch, the file runner
of the command line, `eval`'s stream and the Ray actors.

The window: at most `rows_started(concurrency)` rows run at once and at most `rows_held(concurrency)`
are taken and not yet handed back, both from the judge's `concurrency` (its call slots):
- started: one row per call slot, plus `ADMISSION_SPARE` so that rows waiting out a retry's backoff,
  or between a re-ask's calls, leave every slot busy; the rest wait unstarted, as an item of the
  input (a started row holds its rendered prompts, request and coroutine frames, and thousands of
  those made the garbage collector's passes the largest client cost per call);
- held: `HELD_PER_STARTED` times that, room for one slow row (a long backoff) while the rows after
  it finish and wait for it; later rows wait only when one row is that far behind. So memory does
  not grow with the input, whatever its length.

The exception policy, the same for every caller:
- a row's own error, `ROW_ERRORS` (its bad input, a judge failure it reports, text that cannot be
  encoded), becomes that row's failed result, through the caller's `failed`, from a `RowFailure`:
  its reason, and whose failure it is (the row's input, or the judge's) for callers that tell them
  apart (Inspect's scorer); a caller without a failed form stops on it as below;
- a limit or a dead judge (`RunHalted`) stops the run: no row is taken after it, the rows in flight
  finish (their calls were sent and are paid for: their answers are counted, their rows handed back),
  then it is raised, so `--resume` judges the rest;
- anything else is a crash: it stops the run at once, the rows in flight cancelled, then it is
  raised; so does cancelling the caller (Ctrl-C, SIGTERM), which cancels every row in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from judgekit.errors import InputError, JudgeError, RowFailure, RunHalted
from judgekit.llm.runner import ADMISSION_SPARE
from judgekit.secrets import redact

T = TypeVar("T")
R = TypeVar("R")

# A row's own errors: its bad input, a judge failure it reports, text of the row or of its judge's
# reply that cannot be encoded (a lone surrogate: no JSON line, no cache entry can hold it).
ROW_ERRORS: tuple[type[Exception], ...] = (InputError, JudgeError, UnicodeError)
HELD_PER_STARTED = 8


def rows_started(concurrency: int) -> int:
    """Rows run at once for a judge with `concurrency` call slots."""
    return max(1, concurrency) + ADMISSION_SPARE


def rows_held(concurrency: int) -> int:
    """Rows taken and not yet handed back, at most."""
    return HELD_PER_STARTED * rows_started(concurrency)


def row_failure(exc: BaseException) -> RowFailure:
    """What a failed row carries: the reason, and whose failure it is (bad input is the row's; a judge's
    error, or a text that cannot be encoded, the judging's)."""
    return RowFailure(f"the row could not be judged: {type(exc).__name__}: {redact(str(exc))}",
                      "input" if isinstance(exc, InputError) else "judge")


async def run_rows(items: Iterable[T], job: Callable[[T], Awaitable[R]], put: Callable[[int, R], object], *,
                   concurrency: int, failed: Callable[[T, RowFailure], R] | None = None) -> None:
    """`job` on every item (taken from `items` only when it can start); `put(position, result)` for each,
    in input order, as soon as the results before it are in. Errors as the module says."""
    run = _Run(put, failed, rows_held(concurrency))
    started = asyncio.Semaphore(rows_started(concurrency))
    todo = enumerate(items)
    try:
        while not run.stopped:
            await run.room.acquire()
            await started.acquire()
            taken = None if run.stopped else next(todo, None)
            if taken is None:
                break
            task = asyncio.ensure_future(run.one(*taken, job))
            run.running.add(task)
            task.add_done_callback(run.running.discard)
            task.add_done_callback(lambda _: started.release())
        await asyncio.gather(*run.running, return_exceptions=True)
    finally:  # cancelled from outside, or an error in the items: every row in flight ends, each exception retrieved
        run.cancel_all()
        await asyncio.gather(*run.running, return_exceptions=True)
    if run.stop is not None:
        raise run.stop


async def map_rows(items: Iterable[T], job: Callable[[T], Awaitable[R]], *, concurrency: int,
                   failed: Callable[[T, RowFailure], R] | None = None) -> list[R]:
    """`run_rows` into a list: every result, in input order."""
    out: list[R] = []
    await run_rows(items, job, lambda _, result: out.append(result), concurrency=concurrency, failed=failed)
    return out


class _Run(Generic[T, R]):
    """The state of one `run_rows`: rows in flight, results waiting for the rows before them, the stop."""

    def __init__(self, put: Callable[[int, R], object], failed: Callable[[T, RowFailure], R] | None, held: int) -> None:
        self.put, self.failed = put, failed
        self.room = asyncio.Semaphore(held)  # released as each row is handed back
        self.running: set[asyncio.Future[None]] = set()
        self.waiting: dict[int, R] = {}
        self.next = 0
        self.stop: BaseException | None = None
        self.stopped = False

    async def one(self, index: int, item: T, job: Callable[[T], Awaitable[R]]) -> None:
        try:
            try:
                result = await job(item)
            except ROW_ERRORS as exc:
                if self.failed is None:
                    raise
                result = self.failed(item, row_failure(exc))
            self.hand_back(index, result)
        except Exception as exc:  # a limit or a crash: raised by run_rows, once the rows in flight end
            self.halt(exc)
        except BaseException as exc:  # a cancellation (ours: the run is stopping already), an exit
            self.halt(exc)
            raise

    def hand_back(self, index: int, result: R) -> None:
        self.waiting[index] = result
        while self.next in self.waiting:
            self.put(self.next, self.waiting.pop(self.next))
            self.next += 1
            self.room.release()

    def halt(self, exc: BaseException) -> None:
        if self.stop is None:
            self.stop, self.stopped = exc, True
            self.room.release()  # the loop may wait for room the stopped row holds
        if not isinstance(exc, RunHalted):
            self.cancel_all()

    def cancel_all(self) -> None:
        current = asyncio.current_task()
        for task in self.running:
            if task is not current:
                task.cancel()
