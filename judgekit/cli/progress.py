"""Progress of a command that judges rows, told in judge calls: the rows finish in any order and a row
served by the cache finishes at once, so an ETA from rows says little. The ETA here is the calls left
(the calls a row takes so far, times the rows, less the calls made and served) over the rate of the calls
actually sent; calls served by the cache are counted apart and never make the run look faster.

On a terminal: a bar. Elsewhere (a pipe, nohup, a batch log): one plain line on stderr every `every`
seconds, none with `--quiet`. Notices (a structured-output form the server refused and its fallback, a
server set aside) are said once each on stderr, and counted for the summary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from judgekit.secrets import redact

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

DEFAULT_EVERY = 30.0
Calls = Callable[[], tuple[int, int]]  # (calls sent, calls served by the cache) so far


@dataclass
class Settings:
    """How progress is shown: a line every `every` seconds when not on a terminal; nothing when `quiet`."""

    every: float = DEFAULT_EVERY
    quiet: bool = False


SETTINGS = Settings()


@dataclass
class Estimate:
    rows_total: int
    rows_done: int
    calls: int
    cached: int
    seconds: float

    def eta(self) -> float | None:
        """Seconds left, from the calls: None until a row is done and a call was sent."""
        if self.rows_done <= 0 or self.calls <= 0 or self.seconds <= 0:
            return None
        per_row = (self.calls + self.cached) / self.rows_done
        left = max(0.0, per_row * self.rows_total - self.calls - self.cached)
        return left / (self.calls / self.seconds)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def line(label: str, e: Estimate) -> str:
    share = f" ({100 * e.rows_done / e.rows_total:.0f}%)" if e.rows_total else ""
    rate = e.calls / e.seconds if e.seconds > 0 else 0.0
    return (f"{label}: {e.rows_done}/{e.rows_total} rows{share}, {e.calls} calls sent + {e.cached} from the cache, "
            f"{rate:.1f} calls/s, elapsed {_clock(e.seconds)}, ETA {_clock(e.eta())}")


class Notices(logging.Handler):
    """Warnings of the `judgekit` logger during a run: each kind said once on the console, all counted."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        kind = getattr(record, "notice", None) or record.name.rsplit(".", 1)[-1]
        first = kind not in self.counts
        self.counts[kind] += 1
        if first:
            self.console.print(f"note: {redact(record.getMessage())} (said once; counted in the summary)",
                               highlight=False, markup=False)


class RunProgress:
    """The progress of one run: `advance()` once per finished row."""

    def __init__(self, label: str, total: int, done: int, calls: Calls, console: Console,
                 settings: Settings = SETTINGS) -> None:
        self.label, self.total, self.done, self._calls, self.console = label, total, done, calls, console
        self._start_done = done
        self._settings = settings
        self._started = time.perf_counter()
        self._base = calls()
        self._stop = threading.Event()
        self._bar: Progress | None = None
        self.notices = Notices(console)

    def estimate(self) -> Estimate:
        calls, cached = self._calls()
        return Estimate(self.total - self._start_done, self.done - self._start_done, calls - self._base[0],
                        cached - self._base[1], time.perf_counter() - self._started)

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, eta=_clock(self.estimate().eta()))

    @contextmanager
    def shown(self) -> Iterator[RunProgress]:
        logger = logging.getLogger("judgekit")
        logger.addHandler(self.notices)
        try:
            if self.console.is_terminal and not self._settings.quiet:
                with self._terminal():
                    yield self
            elif not self._settings.quiet and self._settings.every > 0:
                with self._lines():
                    yield self
            else:
                yield self
        finally:
            logger.removeHandler(self.notices)

    @contextmanager
    def _terminal(self) -> Iterator[None]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # a bar on a terminal only

        self._bar = Progress(TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("ETA {task.fields[eta]} (from calls)"), console=self.console)
        with self._bar:
            self._task = self._bar.add_task(self.label, total=self.total, completed=self.done, eta="?")
            yield

    @contextmanager
    def _lines(self) -> Iterator[None]:
        def tell() -> None:
            while not self._stop.wait(self._settings.every):
                self.console.print(line(self.label, self.estimate()), highlight=False, markup=False)

        thread = threading.Thread(target=tell, name="judgekit-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=1)
