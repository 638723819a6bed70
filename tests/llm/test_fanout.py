"""A group of calls fails only once every call has finished, so no call is left running unread."""

import asyncio

import pytest

from judgekit.llm.fanout import gather_all


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
