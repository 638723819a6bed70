"""A group of calls fails only once every call has finished, so no call is left running unread."""

import asyncio

import pytest

from judgekit.llm.fanout import gather_all, gather_bounded


def test_the_first_error_is_raised_once_every_call_has_finished():
    finished: list[str] = []

    async def fails_at_once() -> int:
        raise ValueError("first")

    async def fails_later() -> int:
        await asyncio.sleep(0.05)
        finished.append("later")
        raise RuntimeError("later")

    async def main() -> None:
        with pytest.raises(ValueError, match="first"):
            await gather_all(fails_at_once(), fails_later())
        assert finished == ["later"]
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())


def test_results_come_in_argument_order():
    async def after(seconds: float, value: int) -> int:
        await asyncio.sleep(seconds)
        return value

    assert asyncio.run(gather_all(after(0.03, 1), after(0.0, 2), after(0.01, 3))) == [1, 2, 3]


def test_in_window_keeps_the_items_taken_and_not_released_within_the_window() -> None:
    from judgekit.data.outfile import DiscardSink
    from judgekit.llm.fanout import in_window, window_for

    n, workers = 3000, 8
    sink, taken, released, most, got = DiscardSink(), [0], [0], [0], {}

    async def job(k: int) -> int:
        taken[0] += 1
        most[0] = max(most[0], taken[0] - released[0])
        await asyncio.sleep(0.3 if k in (0, 1500) else 0)  # a slow item holds back the release of those after it
        return 2 * k

    def put(index: int, result: int) -> int:
        got[index] = result
        out = sink.write(index, {})
        released[0] += out
        return out

    asyncio.run(in_window(iter(range(n)), job, put, workers=workers))
    assert got == {k: 2 * k for k in range(n)}
    assert workers < most[0] <= window_for(workers)  # the window was used, and never exceeded


def test_in_window_stops_at_the_first_error() -> None:
    from judgekit.llm.fanout import in_window

    started: list[int] = []

    async def job(k: int) -> int:
        started.append(k)
        if k == 3:
            raise ValueError("three")
        await asyncio.sleep(0)
        return k

    with pytest.raises(ValueError, match="three"):
        asyncio.run(in_window(iter(range(10_000)), job, lambda index, result: 1, workers=2))
    assert len(started) < 100  # the workers stopped taking items

def test_bounded_runs_at_most_limit_at_once_and_keeps_argument_order():
    running, most = 0, 0

    async def after(seconds: float, value: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(seconds)
        running -= 1
        return value

    delays = [0.03, 0.0, 0.01, 0.02, 0.0, 0.01, 0.0]
    out = asyncio.run(gather_bounded((after(d, i) for i, d in enumerate(delays)), 3))
    assert out == list(range(len(delays)))
    assert most == 3


def test_bounded_raises_the_first_error_once_every_call_has_finished():
    finished: list[int] = []

    async def call(i: int) -> int:
        await asyncio.sleep(0.01 * (5 - i))
        finished.append(i)
        if i in (1, 3):
            raise ValueError(f"call {i}")
        return i

    async def main() -> None:
        with pytest.raises(ValueError, match="call 1"):
            await gather_bounded((call(i) for i in range(5)), 2)
        assert sorted(finished) == [0, 1, 2, 3, 4]
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())


def test_bounded_makes_calls_only_as_room_frees_up():
    made: list[int] = []

    async def main() -> None:
        go = asyncio.Event()

        async def call(i: int) -> int:
            await go.wait()
            return i

        def calls():
            for i in range(6):
                made.append(i)
                yield call(i)

        task = asyncio.ensure_future(gather_bounded(calls(), 2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert made == [0, 1]  # the rest not yet made: none is left unawaited if the batch is cancelled
        go.set()
        assert await task == list(range(6))

    asyncio.run(main())


def test_bounded_starts_no_more_workers_than_calls():
    async def call() -> int:
        return len(asyncio.all_tasks())

    async def main() -> list[int]:
        return await gather_bounded((call() for _ in range(2)), 50)

    assert max(asyncio.run(main())) <= 3  # the batch's own task and one worker per call
    assert asyncio.run(gather_bounded(iter(()), 8)) == []
