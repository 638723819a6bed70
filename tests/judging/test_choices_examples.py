"""Criteria with named options (`choices`) and worked examples (`examples`), against the scripted
HTTP judge: the shuffled options, the labels mapped back to values, an invented label, pairwise,
the examples in the fenced prompt and the cache, and the rubric errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from judgekit.protocol.templates import shuffled_labels
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import run_cli, scripted_judge

OPTIONS = [{"label": "poor", "value": 0}, {"label": "fair", "value": 1}, {"label": "good", "value": 2}, {"label": "great", "value": 4}]
RUBRIC = {"name": "t", "criteria": [{"id": "quality", "text": "How good is the answer?", "choices": OPTIONS}]}
VALUE = {o["label"]: o["value"] / 4 for o in OPTIONS}
_FIRST_OPTION = re.compile(r'choose one option: "([^"]+)"')
_RESPONSE = re.compile(r"<judgekit-response-\w+>\n(.*?)\n</judgekit-response-", re.S)


def first_option_judge(state: ServerState) -> Script:
    """A judge biased to the first option shown: it always answers it (one call in flight at a time)."""
    def met(cid: str, response: str) -> str:
        text = state.requests[-1]["messages"][-1]["content"]
        return _FIRST_OPTION.findall(text)[0]
    return Script(met=met)  # type: ignore[arg-type]


def test_the_shuffle_spreads_a_first_option_bias_and_each_label_maps_back_to_its_value() -> None:
    state = ServerState()
    state.script = first_option_judge(state)
    rows = [{"prompt": "q", "response": f"answer {i}"} for i in range(40)]
    with ScriptedJudgeServer(state) as server, scripted_judge(server, concurrency=1) as judge:
        results = judge.score(rows, rubric_from_data(RUBRIC))
    first = {_RESPONSE.findall(b["messages"][-1]["content"])[0]: _FIRST_OPTION.findall(b["messages"][-1]["content"])[0]
             for b in state.requests}
    # mapped back by label: each row's score is the value of the option its judge picked
    assert [r.scores["quality"] for r in results] == [VALUE[first[row["response"]]] for row in rows]
    # the bias is spread over the options, not stacked on the rubric's first one
    assert set(first.values()) == set(VALUE)
    assert max(list(first.values()).count(label) for label in VALUE) < 20
    # the schema asks for one of the labels
    item = state.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["verdicts"]["items"]
    assert item["properties"]["choice"] == {"type": "string", "enum": ["poor", "fair", "good", "great"]}


def test_the_order_is_stable_per_row_and_criterion() -> None:
    criterion = rubric_from_data(RUBRIC).criteria[0]
    assert shuffled_labels(criterion, "row-1") == shuffled_labels(criterion, "row-1")
    assert len({tuple(shuffled_labels(criterion, f"row-{i}")) for i in range(20)}) > 1


def test_a_label_the_judge_invents_is_reasked_then_unscored() -> None:
    state = ServerState(script=Script(met=lambda cid, r: "excellent"))  # type: ignore[arg-type,return-value]
    with ScriptedJudgeServer(state) as server, scripted_judge(server, max_reasks=1) as judge:
        result = judge.score([{"prompt": "q", "response": "r"}], rubric_from_data(RUBRIC))[0]
    assert result.reward is None and result.scores == {"quality": None}
    assert "'choice' is 'excellent'" in result.unscored["quality"]
    assert state.count == 2


def test_a_label_in_another_case_is_read_and_the_formula_weighs_the_value() -> None:
    rubric = {"name": "t", "criteria": [{"id": "quality", "text": "Q?", "choices": OPTIONS, "weight": 3},
                                        {"id": "polite", "text": "Is polite."}]}
    state = ServerState(script=Script(met=lambda cid, r: " GOOD " if cid == "quality" else True))  # type: ignore[arg-type,return-value]
    with ScriptedJudgeServer(state) as server, scripted_judge(server, criteria_per_call="all") as judge:
        result = judge.score([{"prompt": "q", "response": "r"}], rubric_from_data(rubric))[0]
    assert result.scores == {"quality": 0.5, "polite": 1} and result.ratings == {"quality": "good"}
    assert result.reward == pytest.approx((3 * 0.5 + 1) / 4)


def test_pairwise_compares_the_values_each_response_is_given() -> None:
    def met(cid: str, response: str) -> str:
        return "great" if "detailed" in response else "fair"
    state = ServerState(script=Script(met=met))  # type: ignore[arg-type]
    with ScriptedJudgeServer(state) as server, scripted_judge(server) as judge:
        out = judge.compare([{"prompt": "q", "response_a": "short", "response_b": "detailed"}], rubric_from_data(RUBRIC))[0]
    assert out.winner == "B" and out.preferences == {"quality": -1}
    assert all("preference" not in json.dumps(b["response_format"]) for b in state.requests)  # judged per side


EXAMPLES = [{"response": "Paris.", "verdict": "MET", "reason": "names the capital"},
            {"response": [{"role": "assistant", "content": "Lyon."}], "verdict": False, "reason": "wrong city"}]


def test_examples_are_shown_fenced_and_are_part_of_the_cache_key(tmp_path: Path) -> None:
    base: dict[str, Any] = {"id": "capital", "text": "Names the capital of France."}
    with_examples = {"name": "t", "criteria": [{**base, "examples": EXAMPLES}]}
    state = ServerState()
    with ScriptedJudgeServer(state) as server, scripted_judge(server, cache=True, cache_dir=str(tmp_path)) as judge:
        rows = [{"prompt": "Capital of France?", "response": "Paris"}]
        judge.score(rows, rubric_from_data(with_examples))
        text = state.requests[0]["messages"][-1]["content"]
        assert 'criterion_id "capital", example 1: verdict MET, because: names the capital' in text
        assert re.search(r"<judgekit-example-(\w+)>\nParis\.\n</judgekit-example-\1>", text)
        assert "example 2: verdict UNMET, because: wrong city" in text and "Lyon." in text
        judge.score(rows, rubric_from_data(with_examples))
        assert state.count == 1  # the same examples: from the cache
        judge.score(rows, rubric_from_data({"name": "t", "criteria": [{**base, "examples": EXAMPLES[:1]}]}))
        assert state.count == 2  # other examples: another question
        judge.score(rows, rubric_from_data({"name": "t", "criteria": [base]}))
        assert "example" not in state.requests[-1]["messages"][-1]["content"]


@pytest.mark.parametrize(("criterion", "field", "why"), [
    ({"choices": OPTIONS, "examples": [{"response": "r", "verdict": "superb"}]}, "examples[0].verdict",
     "'superb' is not one of the choices"),
    ({"examples": [{"response": "r", "verdict": "maybe"}]}, "examples[0].verdict", "'maybe' is not MET or UNMET"),
    ({"scale": {"min": 1, "max": 5}, "examples": [{"response": "r", "verdict": 9}]}, "examples[0].verdict",
     "9 is not a rating from 1 to 5"),
    ({"choices": [{"label": "a", "value": 1}, {"label": "a", "value": 2}]}, "choices", "different labels"),
    ({"choices": [{"label": "a", "value": 1}, {"label": "b", "value": 1}]}, "choices", "two different values"),
    ({"choices": [{"label": "a", "value": 1}, {"label": "b", "value": ".nan"}]}, "choices[1].value", "finite"),
])
def test_rubric_errors_name_file_criterion_and_field(tmp_path: Path, criterion: dict[str, Any], field: str, why: str) -> None:
    path = tmp_path / "r.yaml"
    body = json.dumps({"id": "q", "text": "Q?", **criterion}).replace('".nan"', ".nan")
    path.write_text(f"name: t\ncriteria:\n  - {body}\n")
    done = run_cli("rubric", "validate", str(path))
    assert done.returncode == 2, done.stderr
    assert "r.yaml" in done.stderr and "criterion 'q'" in done.stderr and f"field '{field}'" in done.stderr, done.stderr
    assert why in done.stderr and "Traceback" not in done.stderr


def test_votes_over_labels_take_the_majority_and_unanimous_needs_one_label() -> None:
    from judgekit.judging.votes import Vote, decide

    votes = [Vote("warm"), Vote("warm"), Vote("hostile")]
    assert decide(votes, "majority", pairwise=False) == ("warm", None)
    assert decide(votes, "any", pairwise=False) == ("warm", None)
    assert decide(votes, "unanimous", pairwise=False)[0] is None
    assert decide(votes[:2], "unanimous", pairwise=False) == ("warm", None)
