"""A backend's hooks (judgekit.llm.base.Backend): a subclass gets every default and writes only
`identity` and `complete`; an object with only the three methods of `BackendLike` works as well,
its own hooks kept and the defaults given for the rest."""

from __future__ import annotations

import asyncio
import json

import judgekit
from judgekit.llm.base import Backend, Completion, JudgeRequest, as_backend
from judgekit.llm.runner import CallRunner, RetryPolicy
from judgekit.llm.usage import RunStats

REQUEST = JudgeRequest(messages=({"role": "user", "content": "q"},), schema=None, mode="pointwise", ids=("c",))
RUBRIC = {"name": "r", "criteria": [{"id": "c", "text": "C."}]}


def _met(request: JudgeRequest) -> Completion:
    return Completion(text=json.dumps({"verdicts": [{"criterion_id": c, "reasoning": "r", "met": True} for c in request.ids]}))


class OneAtATime:
    """Not a Backend subclass: the three methods, and a hook of its own (one call at a time)."""

    max_concurrency = 1
    unsent_fields = frozenset({"seed"})

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0

    def identity(self) -> dict[str, str]:
        return {"backend": "one-at-a-time"}

    async def complete(self, request: JudgeRequest) -> Completion:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return _met(request)

    async def aclose(self) -> None:
        return None


class Minimal(Backend):
    """A subclass with only what a subclass must write."""

    def identity(self) -> dict[str, str]:
        return {"backend": "minimal"}

    async def complete(self, request: JudgeRequest) -> Completion:
        return _met(request)


def test_a_subclass_gets_every_default() -> None:
    backend = Minimal()
    assert (backend.max_concurrency, backend.enforces_timeout, backend.unsent_fields) == (None, False, frozenset())
    assert as_backend(backend) is backend
    with judgekit.Judge("openai:minimal", backend=backend, cache=False) as judge:
        judge.check_servers()  # the default check: nothing to check
        assert judge.score([{"prompt": "p", "response": "r"}], RUBRIC)[0].reward == 1.0


def test_a_backend_of_three_methods_keeps_its_own_hooks() -> None:
    backend = OneAtATime()

    async def main() -> None:
        runner = CallRunner(backend, concurrency=8, timeout=5.0, policy=RetryPolicy(), stats=RunStats())
        await asyncio.gather(*(runner.call(REQUEST) for _ in range(6)))
        assert runner.backend.enforces_timeout is False  # not declared: the default
        fields = {"messages": ["q"], "seed": 0}
        assert runner.cache_key(fields) == runner.cache_key({**fields, "seed": 1})  # the seed is never sent

    asyncio.run(main())
    assert backend.most == 1


def test_a_backend_of_three_methods_is_checked_and_judges() -> None:
    with judgekit.Judge("openai:three", backend=OneAtATime(), cache=False) as judge:
        judge.check_servers()  # it has no check of its own: nothing to check
        assert judge.score([{"prompt": "p", "response": "r"}], RUBRIC)[0].reward == 1.0
