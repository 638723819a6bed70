"""The judge the reward-function tests share: the scripted server answering by `tests.rl.scripted.script`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import judgekit
from judgekit.testing import ScriptedJudgeServer
from tests.rl.scripted import script


@pytest.fixture
def judge(judge_server: ScriptedJudgeServer) -> Iterator[judgekit.Judge]:
    judge_server.state.script.met = script
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", concurrency=16,
                        cache=False, max_attempts=1) as j:
        yield j
