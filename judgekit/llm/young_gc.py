"""Fewer young-generation collections while judge calls are in flight.

Each call in flight holds a chain of coroutine frames, a task, its request and the connection's
reply objects until its answer comes. With 64 calls in flight, CPython's default first threshold
(700 container allocations) starts a young collection every few calls; each walks those live
frames, and its survivors fill the older generations, whose passes follow. In
`benchmarks/throughput.py` that was about 0.35 s of the client's ~2.7 s of CPU per 3000 calls, and
the difference between judgekit and a bare aiohttp loop.

So while any call is in flight (in any Judge of the process), the first threshold is raised to
YOUNG_THRESHOLD; the older generations' thresholds are left as they are. When the last call ends
the previous threshold comes back, unless somebody set another meanwhile (theirs is kept), and a
threshold already above ours, or 0 (automatic collection off), is never touched. Cyclic garbage
waits a little longer for its collection; nothing else changes.

A process that exists to judge (the command line) raises it for its whole life (`for_this_process`):
its start-up makes some 55,000 objects that live as long as it does (the modules it imports), so
young collections during it are wasted work, and its run has calls in flight nearly all the time.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_in_flight = 0
_saved: int | None = None  # the first threshold to restore, when we raised it


class _CallsInFlight:
    """Held around one call (a plain class: a generator-based context manager cost as much as the
    rest of the call runner's own work)."""

    def __enter__(self) -> None:
        global _in_flight, _saved
        with _lock:
            _in_flight += 1
            if _in_flight == 1:
                first, second, third = gc.get_threshold()
                if 0 < first < YOUNG_THRESHOLD:
                    _saved = first
                    gc.set_threshold(YOUNG_THRESHOLD, second, third)

    def __exit__(self, *exc: object) -> None:
        global _in_flight, _saved
        with _lock:
            _in_flight -= 1
            if _in_flight == 0 and _saved is not None:
                first, second, third = gc.get_threshold()
                if first == YOUNG_THRESHOLD:
                    gc.set_threshold(_saved, second, third)
                _saved = None


_HOLD = _CallsInFlight()


def for_this_process() -> None:
    """Raise the first threshold from now on (a threshold already above it, or 0, is kept)."""
    first, second, third = gc.get_threshold()
    if 0 < first < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, second, third)


def calls_in_flight() -> _CallsInFlight:
    """Hold this around one call; the first threshold stays raised while any call holds it."""
    return _HOLD
