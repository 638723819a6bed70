"""The row engine: rows in input order within a bounded window, taken only when they can start, and
one exception policy (a row's own error is a failed row; a limit drains the rows in flight and
stops; a crash or a cancellation cancels them and stops)."""

from __future__ import annotations

import asyncio

import pytest

from judgekit.errors import InputError, JudgeError, LimitReached, RowFailure
from judgekit.llm.engine import map_rows, rows_held, rows_started, run_rows


def test_results_come_in_input_order_within_the_window() -> None:
    n, concurrency = 3000, 8
    taken, handed, most_held, most_running, running, got = [0], [0], [0], [0], [0], []

    async def job(k: int) -> int:
        taken[0] += 1
        running[0] += 1
        most_held[0] = max(most_held[0], taken[0] - handed[0])
        most_running[0] = max(most_running[0], running[0])
        await asyncio.sleep(0.3 if k in (0, 1500) else 0)  # a slow row holds back the rows after it
        running[0] -= 1
        return 2 * k

    def put(index: int, result: int) -> None:
        handed[0] += 1
        got.append((index, result))

    asyncio.run(run_rows(iter(range(n)), job, put, concurrency=concurrency))
    assert got == [(k, 2 * k) for k in range(n)]
    assert most_running[0] == rows_started(concurrency)
    assert rows_started(concurrency) < most_held[0] <= rows_held(concurrency)  # the window was used, and never exceeded


def test_rows_are_taken_only_as_room_frees_up_and_no_task_is_left() -> None:
    made: list[int] = []

    async def main() -> None:
        go = asyncio.Event()

        async def job(k: int) -> int:
            await go.wait()
            return k

        def items():
            for k in range(1000):
                made.append(k)
                yield k

        task = asyncio.ensure_future(map_rows(items(), job, concurrency=1))
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(made) == rows_started(1)
        go.set()
        assert await task == list(range(1000))
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())


def test_a_rows_own_error_is_its_failed_result_with_the_reason() -> None:
    async def job(k: int) -> str:
        if k == 1:
            raise InputError("bad field", field="prompt")
        if k == 2:
            raise JudgeError("the judge said no")
        return "ok"

    out = asyncio.run(map_rows(range(4), job, concurrency=2, failed=lambda k, why: why))
    assert out[0] == out[3] == "ok"
    assert isinstance(out[1], RowFailure) and out[1].kind == "input"  # whose failure: the row's input
    assert out[1].reason.startswith("the row could not be judged: InputError:") and "prompt" in out[1].reason
    assert out[2] == RowFailure("the row could not be judged: JudgeError: the judge said no", "judge")
    with pytest.raises(InputError):  # a caller without a failed form stops on it
        asyncio.run(map_rows(range(4), job, concurrency=2))


def test_a_limit_stops_taking_rows_and_lets_the_rows_in_flight_finish() -> None:
    finished: list[int] = []
    put: list[int] = []

    async def job(k: int) -> int:
        if k == 3:
            raise LimitReached("stopped at --max-calls 3")
        await asyncio.sleep(0.05)
        finished.append(k)
        return k

    with pytest.raises(LimitReached):
        asyncio.run(run_rows(range(10_000), job, lambda index, k: put.append(index), concurrency=1, failed=lambda k, r: -1))
    assert len(finished) == rows_started(1) - 1  # every row started finished (their calls were sent: counted)
    assert put == [0, 1, 2]  # handed back only up to the row that stopped the run


def test_a_crash_cancels_the_rows_in_flight_and_stops() -> None:
    finished: list[int] = []
    cancelled: list[int] = []

    async def job(k: int) -> int:
        if k == 3:
            await asyncio.sleep(0.01)
            raise ZeroDivisionError("a bug")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(k)
            raise
        finished.append(k)
        return k

    async def main() -> None:
        with pytest.raises(ZeroDivisionError):
            await run_rows(range(10_000), job, lambda index, k: None, concurrency=1, failed=lambda k, r: -1)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())
    assert finished == [] and len(cancelled) == rows_started(1) - 1


def test_cancelling_the_caller_cancels_every_row_in_flight() -> None:
    cancelled: list[int] = []

    async def job(k: int) -> int:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(k)
            raise
        return k

    async def main() -> None:
        task = asyncio.ensure_future(run_rows(range(100), job, lambda index, k: None, concurrency=1))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())
    assert len(cancelled) == rows_started(1)
