"""A large batch builds only the requests that can be sent soon: the rest wait before their
prompts are rendered (CallRunner.admission, gather_bounded), not with their requests built."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import judgekit
from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.runner import ADMISSION_PER_SLOT, ADMISSION_SPARE
from judgekit.protocol.profiles import JudgeProfile, load_profile


class _Held:
    """Answers MET to every call, once `release` is set; counts the calls started."""

    enforces_timeout = True

    def __init__(self) -> None:
        self.started = 0
        self.release = threading.Event()

    def identity(self) -> dict[str, Any]:
        return {"backend": "held"}

    async def complete(self, request: JudgeRequest) -> Completion:
        self.started += 1
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        return Completion(text=json.dumps({"verdicts": [{"criterion_id": c, "reasoning": "r", "met": True} for c in request.ids]}))

    async def aclose(self) -> None:
        return None


def test_questions_wait_for_room_before_their_prompts_are_rendered():
    rendered: list[str] = []

    class Counting(JudgeProfile):
        def messages(self, mode: Any, context: dict[str, Any]) -> list[dict[str, str]]:
            rendered.append(mode)
            return super().messages(mode, context)

    profile = Counting.model_validate(load_profile("judgekit").model_dump())
    rubric = judgekit.rubric_from_data({"name": "r", "criteria": [{"id": f"c{i}", "text": f"C{i}."} for i in range(3)]})
    rows = [{"prompt": f"Q{i}", "response": f"A{i}"} for i in range(60)]
    backend = _Held()
    with judgekit.Judge("openai:held", backend=backend, cache=False, concurrency=2, profile=profile) as judge:
        results: list[judgekit.ScoreResult] = []
        worker = threading.Thread(target=lambda: results.extend(judge.score(rows, rubric)))
        worker.start()
        deadline = time.time() + 20
        while backend.started < 2 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # room for anything else that would be started
        held_calls, held_renders = backend.started, len(rendered)
        backend.release.set()
        worker.join(timeout=60)
    assert held_calls == 2  # the call slots
    assert held_renders == ADMISSION_PER_SLOT * 2 + ADMISSION_SPARE  # of the 180 questions
    assert len(results) == 60 and all(r.reward == 1.0 for r in results)
    assert len(rendered) == 180
