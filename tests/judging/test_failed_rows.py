"""A row `Judge.score` could not judge at all is a failed result, its reason under "*", that says whose
failure it is: the row's input (no rubric) or the judge's (a reply that cannot be stored). The kind is
not part of the output row. A judge that answers nothing usable leaves the row's criteria unscored:
judged, not failed."""

from __future__ import annotations

import json
from pathlib import Path

from judgekit.testing import Faults, ScriptedJudgeServer
from tests.helpers import scripted_judge

OWN_RUBRIC = [{"id": "a", "text": "Says yes."}]


def test_a_row_without_a_rubric_fails_on_its_input(judge_server: ScriptedJudgeServer):
    with scripted_judge(judge_server) as judge:
        failed, judged = judge.score([{"prompt": "q", "response": "yes"}, {"prompt": "q", "response": "yes", "rubric": OWN_RUBRIC}])
    assert failed.reward is None and failed.failure == "input" and "no rubric" in failed.unscored["*"]
    assert judged.reward == 1.0 and judged.failure is None
    assert "failure" not in failed.model_dump() and "failure" not in json.loads(failed.model_dump_json())


def test_a_judge_reply_that_cannot_be_stored_fails_on_the_judge(judge_server: ScriptedJudgeServer, rubric: Path):
    judge_server.state.script.reasoning = "echo \ud800 here"  # a lone surrogate: no cache entry can hold the reply
    with scripted_judge(judge_server, cache=True) as judge:
        [result] = judge.score([{"prompt": "q", "response": "yes"}], rubric)
    assert result.reward is None and result.failure == "judge" and "UnicodeEncodeError" in result.unscored["*"]


def test_a_judge_answering_garbage_leaves_the_criteria_unscored_not_the_row_failed(judge_server: ScriptedJudgeServer, rubric: Path):
    judge_server.state.faults = Faults(garbage=1.0)
    with scripted_judge(judge_server, max_reasks=0) as judge:
        [result] = judge.score([{"prompt": "q", "response": "yes"}], rubric)
    assert result.reward is None and result.failure is None and set(result.unscored) == {"a", "b"}
