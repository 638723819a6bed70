"""The garbage collector's first threshold while judge calls are in flight (judgekit.llm.young_gc),
seen from inside a real CallRunner's calls."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.runner import CallRunner, RetryPolicy
from judgekit.llm.usage import RunStats
from judgekit.llm.young_gc import YOUNG_THRESHOLD, for_this_process


class ThresholdBackend:
    """Answers after a short wait and keeps the first threshold it saw while answering."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def identity(self) -> dict[str, str]:
        return {"backend": "threshold"}

    async def complete(self, request: JudgeRequest) -> Completion:
        self.seen.append(gc.get_threshold()[0])
        await asyncio.sleep(0.01)
        self.seen.append(gc.get_threshold()[0])
        return Completion(text="{}")

    async def aclose(self) -> None:
        return None


@pytest.fixture
def threshold() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def _calls(backend: ThresholdBackend, n: int) -> None:
    async def main() -> None:
        runner = CallRunner(backend, concurrency=4, timeout=None, policy=RetryPolicy(), stats=RunStats())
        request = JudgeRequest(messages=({"role": "user", "content": "q"},), schema=None, mode="pointwise", ids=("c",))
        await asyncio.gather(*(runner.call(request) for _ in range(n)))

    asyncio.run(main())


def test_raised_while_calls_are_in_flight_and_restored_after(threshold: tuple[int, int, int]) -> None:
    backend = ThresholdBackend()
    _calls(backend, 10)
    assert backend.seen and set(backend.seen) == {YOUNG_THRESHOLD}
    assert gc.get_threshold() == threshold  # the older generations' thresholds were never touched


def test_a_threshold_set_during_the_calls_is_kept(threshold: tuple[int, int, int]) -> None:
    class Resetting(ThresholdBackend):
        async def complete(self, request: JudgeRequest) -> Completion:
            gc.set_threshold(5000, 10, 10)  # the user's own choice, made while a call is in flight
            return await super().complete(request)

    _calls(Resetting(), 3)
    assert gc.get_threshold() == (5000, 10, 10)


@pytest.mark.parametrize("first", [0, 50_000])
def test_collection_off_or_a_higher_threshold_is_left_alone(first: int) -> None:
    saved = gc.get_threshold()
    gc.set_threshold(first, 10, 10)
    try:
        backend = ThresholdBackend()
        _calls(backend, 3)
        assert set(backend.seen) == {first}
        assert gc.get_threshold() == (first, 10, 10)
    finally:
        gc.set_threshold(*saved)


@pytest.mark.parametrize(("first", "kept"), [(700, YOUNG_THRESHOLD), (0, 0), (50_000, 50_000)])
def test_a_process_that_judges_keeps_it_raised_after_its_calls(threshold: tuple[int, int, int], first: int, kept: int) -> None:
    gc.set_threshold(first, 10, 10)
    for_this_process()
    backend = ThresholdBackend()
    _calls(backend, 3)
    assert set(backend.seen) == {kept}
    assert gc.get_threshold() == (kept, 10, 10)  # the calls' end did not lower it
