"""Criteria rated on a scale (Likert) and criteria that may not apply, end to end against the
scripted HTTP judge: the rubric file, the wire schema, the reward formula with worked values,
pairwise, repeated samples, panels and a native profile that rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import judgekit
from judgekit.judging.agreement import krippendorff_alpha
from judgekit.judging.votes import Vote, decide
from judgekit.protocol.wire import NOT_APPLICABLE, VerdictForm, parse_verdicts, verdict_schema
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import run_cli

RUBRIC = rubric_from_data({"name": "t", "criteria": [
    {"id": "clear", "text": "Is clear.", "weight": 2, "scale": {"min": 1, "max": 5, "labels": {1: "murky", 5: "crystal"}}},
    {"id": "dose", "text": "Gives the dose.", "not_applicable": True},
    {"id": "polite", "text": "Is polite."},
]})


def scripted(**answers: object) -> Script:
    """A judge answering each criterion by a fixed value, or by a function of the response."""
    return Script(met=lambda cid, r: answers[cid](r) if callable(answers[cid]) else answers[cid])  # type: ignore[return-value]


def score(script: Script, rows: list[dict[str, object]], rubric: judgekit.Rubric = RUBRIC, **kw: object) -> list[judgekit.ScoreResult]:
    with ScriptedJudgeServer(ServerState(script=script)) as server:
        kw.setdefault("cache", False)
        with judgekit.Judge("openai:scripted", base_url=server.base_url, **kw) as judge:  # type: ignore[arg-type]
            return judge.score(rows, rubric)


# ---- the formula, with worked values ----------------------------------------------------------------


@pytest.mark.parametrize("per_call", ["one", "all"])
def test_a_rating_counts_its_normalised_value_and_not_applicable_leaves_the_denominator(per_call: str):
    # clear rated 4 on 1..5 -> (4-1)/(5-1) = 0.75 of weight 2; polite MET (1 of weight 1).
    # dose applies to the second row only (MET): row 0 = (2*0.75 + 1) / 3, row 1 = (1.5 + 1 + 1) / 4.
    rows = [{"id": 0, "prompt": "q", "response": "no dose needed"}, {"id": 1, "prompt": "q", "response": "take 2 pills"}]
    script = scripted(clear=4, polite=True, dose=lambda r: NOT_APPLICABLE if "no dose" in r else True)
    first, second = score(script, rows, criteria_per_call=per_call)
    assert first.reward == pytest.approx(2.5 / 3)
    assert first.scores == {"clear": 0.75, "dose": None, "polite": 1}
    assert first.model_dump()["not_applicable"] == ["dose"] and first.unscored == {}
    assert first.coverage == 1.0
    assert first.model_dump()["ratings"] == {"clear": 4}
    assert second.reward == pytest.approx(3.5 / 4)
    assert "not_applicable" not in second.model_dump()


def test_a_pitfall_rated_high_lowers_the_reward():
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": "good", "text": "Is helpful."},
        {"id": "verbose", "text": "Is padded.", "weight": -1, "scale": {"min": 0, "max": 10}},
    ]})
    (result,) = score(scripted(good=True, verbose=8), [{"prompt": "q", "response": "r"}], rubric)
    assert result.reward == pytest.approx(1 - 0.8)  # (1 - 1 * 8/10) / 1


def test_a_hard_rule_that_does_not_apply_vetoes_nothing_and_every_criterion_not_applying_gives_no_reward():
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": "safe", "text": "Gives no unsafe dose.", "kind": "hard_rule", "not_applicable": True},
        {"id": "kind", "text": "Is kind.", "not_applicable": True},
    ]})
    rows = [{"id": 0, "prompt": "q", "response": "hello"}, {"id": 1, "prompt": "q", "response": "off topic"}]
    script = scripted(safe=NOT_APPLICABLE, kind=lambda r: NOT_APPLICABLE if "off" in r else True)
    applies, nothing = score(script, rows, rubric)
    assert applies.reward == 1.0 and applies.model_dump()["not_applicable"] == ["safe"]
    assert nothing.reward is None
    assert "no criterion" in nothing.unscored["*"]


def test_a_rating_outside_the_scale_is_reasked_then_unscored_never_clipped():
    (result,) = score(scripted(clear=7, polite=True, dose=True), [{"prompt": "q", "response": "r"}], max_reasks=1)
    assert result.reward is None
    assert result.scores["clear"] is None
    assert "'score' is 7" in result.unscored["clear"]


# ---- the wire schema ----------------------------------------------------------------------------------


def test_plain_criteria_keep_the_exact_wire_schema():
    assert verdict_schema("pointwise", ["a", "b"], {}) == verdict_schema("pointwise", ["a", "b"])
    item = verdict_schema("pointwise", ["a", "b"])["properties"]["verdicts"]["items"]
    assert item["properties"]["met"] == {"type": "boolean"} and item["properties"]["criterion_id"]["enum"] == ["a", "b"]


def test_mixed_forms_ask_each_id_with_its_own_item():
    forms = {"r": VerdictForm(scale=(1, 3)), "n": VerdictForm(not_applicable=True)}
    items = verdict_schema("pointwise", ["a", "r", "n"], forms)["properties"]["verdicts"]["items"]["anyOf"]
    fields = {item["properties"]["criterion_id"]["enum"][0]: {k: v for k, v in item["properties"].items()
                                                              if k not in ("criterion_id", "reasoning")} for item in items}
    assert fields == {"a": {"met": {"type": "boolean"}}, "r": {"score": {"type": "integer", "enum": [1, 2, 3]}},
                      "n": {"met": {"enum": [True, False, NOT_APPLICABLE]}}}
    pairwise = verdict_schema("pairwise", ["n"], forms)["properties"]["verdicts"]["items"]
    assert pairwise["properties"]["preference"]["enum"] == ["A", "B", "tie", NOT_APPLICABLE]


def test_ratings_and_not_applicable_are_read_tolerantly_and_only_where_allowed():
    forms = {"r": VerdictForm(scale=(1, 5)), "n": VerdictForm(not_applicable=True)}
    reply = json.dumps({"verdicts": [{"criterion_id": "r", "reasoning": "", "score": "4"},
                                     {"criterion_id": "n", "reasoning": "", "met": "N/A"},
                                     {"criterion_id": "a", "reasoning": "", "met": "not_applicable"}]})
    found, problems = parse_verdicts(reply, "pointwise", ["r", "n", "a"], forms)
    assert {cid: v.value for cid, v in found.items()} == {"r": 4, "n": NOT_APPLICABLE}
    assert problems == ["criterion a: 'met' is 'not_applicable'"]  # a plain criterion always applies
    found, _ = parse_verdicts({"verdicts": [{"criterion_id": "r", "score": 4.5}, {"criterion_id": "r", "score": True}]},
                              "pointwise", ["r"], forms)
    assert found == {}


# ---- pairwise -----------------------------------------------------------------------------------------


def test_pairwise_not_applicable_in_both_orders_leaves_the_margin_in_one_order_is_inconsistent():
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": "acc", "text": "Is accurate."},
        {"id": "dose", "text": "Gives the dose.", "not_applicable": True, "weight": 3},
    ]})
    calls: dict[str, int] = {}

    def prefer(cid: str, a: str, b: str) -> str:
        if cid == "acc":
            return "A" if a == "good" else "B"
        calls[b] = calls.get(b, 0) + 1
        return NOT_APPLICABLE if "flip" not in (a + b) or a == "flip" else "tie"

    pairs = [{"id": 0, "prompt": "q", "response_a": "good", "response_b": "bad"},
             {"id": 1, "prompt": "q", "response_a": "good", "response_b": "flip"}]
    with ScriptedJudgeServer(ServerState(script=Script(prefer=prefer))) as server, \
            judgekit.Judge("openai:scripted", base_url=server.base_url, cache=False) as judge:
        both, one = judge.compare(pairs, rubric)
    assert both.winner == "A" and both.margin == 1.0  # only acc counts: |w| 1 * +1 / 1
    assert both.preferences == {"acc": 1, "dose": None} and both.model_dump()["not_applicable"] == ["dose"]
    assert both.unscored == {}
    assert one.preferences["dose"] == 0 and one.inconsistent == ["dose"]
    assert one.margin == pytest.approx(1 / 4)  # (1 * 1 + 3 * 0) / 4


# ---- samples and panels --------------------------------------------------------------------------------


def test_votes_on_ratings_take_the_median_unanimous_the_lowest_any_the_highest():
    votes = [Vote(2), Vote(4), Vote(5)]
    assert decide(votes, "majority", pairwise=False) == (4, None)
    assert decide(votes, "unanimous", pairwise=False) == (2, None)
    assert decide(votes, "any", pairwise=False) == (5, None)
    assert decide([Vote(2, 3.0), Vote(5, 1.0)], "weighted", pairwise=False) == (2, None)
    value, why = decide([Vote(2), Vote(4)], "majority", pairwise=False)
    assert value is None and why == "no median (ratings 2 1, 4 1)"


def test_votes_decide_first_whether_the_criterion_applies():
    na = Vote(NOT_APPLICABLE)
    assert decide([na, na, Vote(True)], "majority", pairwise=False) == (NOT_APPLICABLE, None)
    assert decide([na, Vote(3), Vote(5), Vote(4)], "majority", pairwise=False) == (4, None)
    value, why = decide([na, Vote(True)], "majority", pairwise=False)
    assert value is None and "whether it applies" in (why or "")
    assert decide([na, Vote("A")], "majority", pairwise=True) == ("tie", None)


def test_three_samples_of_a_rating_give_the_median_and_the_mean_rating_as_soft_value():
    rubric = rubric_from_data({"name": "t", "criteria": [{"id": "clear", "text": "Is clear.", "scale": {"min": 1, "max": 5}}]})
    answers = iter([2, 5, 4] * 10)
    (result,) = score(Script(met=lambda cid, r: next(answers)), [{"prompt": "q", "response": "r"}], rubric, samples=3)
    assert result.model_dump()["ratings"] == {"clear": 4}
    assert result.reward == pytest.approx(0.75)
    assert result.soft == pytest.approx({"clear": (0.25 + 1 + 0.75) / 3})


def test_a_panel_rates_by_the_median_and_its_alpha_is_ordinal():
    servers = [ScriptedJudgeServer(ServerState(script=Script(met=lambda cid, r, v=v: v))) for v in (3, 4, 5)]
    rubric = rubric_from_data({"name": "t", "criteria": [{"id": "clear", "text": "Is clear.", "scale": {"min": 1, "max": 5}}]})
    for s in servers:
        s.__enter__()
    try:
        members = [{"judge": "openai:s", "base_url": s.base_url} for s in servers]
        with judgekit.Panel(members, aggregate="majority", cache=False) as panel:  # type: ignore[arg-type]
            (result,) = panel.score([{"prompt": "q", "response": "r"}], rubric)
    finally:
        for s in servers:
            s.__exit__()
    assert result.model_dump()["ratings"] == {"clear": 4}
    # Ordinal alpha: near misses disagree less than far ones (nominal alpha would not tell them apart).
    near = krippendorff_alpha([[3, 3], [4, 4], [5, 4], [1, 1]])
    far = krippendorff_alpha([[3, 3], [4, 4], [5, 1], [1, 1]])
    assert near is not None and far is not None and near > far


# ---- profiles --------------------------------------------------------------------------------------


def test_prometheus_rates_in_its_native_format_and_a_yes_no_profile_says_it_cannot():
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": "clear", "text": "Is clear.", "scale": {"min": 1, "max": 5, "labels": {1: "murky", 5: "crystal"}}},
    ]})
    with ScriptedJudgeServer(ServerState(script=Script(met=lambda cid, r: 3))) as server:
        with judgekit.Judge("openai:s", base_url=server.base_url, profile="prometheus2", cache=False) as judge:
            (rated,) = judge.score([{"prompt": "q", "response": "r"}], rubric)
        prompt = server.state.requests[0]["messages"][-1]["content"]
        asked = len(server.state.requests)
        with judgekit.Judge("openai:s", base_url=server.base_url, profile="yes-no", cache=False) as judge:
            (refused,) = judge.score([{"prompt": "q", "response": "r"}], rubric)
        assert len(server.state.requests) == asked  # no call made for a question it cannot answer
    assert rated.reward == pytest.approx(0.5) and rated.model_dump()["ratings"] == {"clear": 3}
    assert "Score 1: murky" in prompt and "Score 5: crystal" in prompt
    assert refused.reward is None and "cannot rate" in refused.unscored["clear"]


@pytest.mark.parametrize(("criterion", "words"), [
    ("    scale: {min: 1, max: 5}\n    kind: hard_rule\n", "field 'scale': 'scale' is only allowed with kind 'principle'"),
    ("    scale: {min: 5, max: 1}\n", "field 'scale': min (5) must be below max (1)"),
    ("    scale: {min: 1, max: 3, labels: {4: great}}\n", "label 4 is outside the scale 1..3"),
    ("    scale: {min: 1, max: 5, step: 2}\n", "field 'scale.step': unknown key"),
])
def test_a_bad_scale_exits_2_naming_file_line_and_field(tmp_path: Path, criterion: str, words: str):
    path = tmp_path / "r.yaml"
    path.write_text("name: t\ncriteria:\n  - id: c\n    text: Is clear.\n" + criterion)
    result = run_cli("rubric", "validate", str(path))
    assert result.returncode == 2, result.stderr
    assert f"{path}:5" in result.stderr and words in result.stderr and "Traceback" not in result.stderr


def test_not_applicable_on_a_check_exits_2(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("name: t\ncriteria:\n  - id: c\n    kind: check\n    check: {type: max_words, value: 3}\n"
                    "    not_applicable: true\n")
    result = run_cli("rubric", "validate", str(path))
    assert result.returncode == 2 and "field 'not_applicable'" in result.stderr
