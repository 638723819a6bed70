"""Pointwise scores (docs/rubrics-and-formats.md): the reward formula as a pure function."""

import pytest

from judgekit.judging.scoring import coverage, pointwise_reward
from judgekit.rubric.models import Criterion, Rubric, rubric_from_data


def rubric(*criteria):
    return rubric_from_data({"name": "t", "criteria": list(criteria)})


def test_weighted_met_over_positive_weights():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3}, {"id": "p", "text": "p", "weight": -2})
    assert pointwise_reward(r.criteria, {"a": 1, "b": 0, "p": 0}) == pytest.approx(5 / 8)
    # a pitfall that is present subtracts its weight
    assert pointwise_reward(r.criteria, {"a": 1, "b": 1, "p": 1}) == pytest.approx(6 / 8)
    # and the result is clipped at 0
    assert pointwise_reward(r.criteria, {"a": 0, "b": 0, "p": 1}) == 0.0


def test_all_scored_gives_the_formula_and_full_coverage():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3}, {"id": "h", "text": "h", "kind": "hard_rule"})
    scores = {"a": 1, "b": 0, "h": 1}
    assert pointwise_reward(r.criteria, scores) == pytest.approx(6 / 9)
    assert coverage(r.criteria, scores) == 1.0


def test_one_principle_unscored_gives_null_at_the_default():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3})
    assert pointwise_reward(r.criteria, {"a": None, "b": 1}) is None
    assert coverage(r.criteria, {"a": None, "b": 1}) == pytest.approx(3 / 8)
    assert pointwise_reward(r.criteria, {"a": None, "b": None}) is None
    assert coverage(r.criteria, {"a": None, "b": None}) == 0.0


def test_min_coverage_lowers_the_bar_and_the_formula_runs_over_the_scored():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3}, {"id": "p", "text": "p", "weight": -2})
    scores = {"a": 1, "b": None, "p": 0}  # 7 of 10 scored
    assert coverage(r.criteria, scores) == pytest.approx(0.7)
    assert pointwise_reward(r.criteria, scores, min_coverage=0.5) == 1.0  # 5 / 5 over the scored
    assert pointwise_reward(r.criteria, scores, min_coverage=0.7) == 1.0  # exactly at the bar
    assert pointwise_reward(r.criteria, scores, min_coverage=0.71) is None
    assert pointwise_reward(r.criteria, {"a": None, "b": 1, "p": 0}, min_coverage=0.5) == 1.0  # 5 of 10
    assert pointwise_reward(r.criteria, {"a": None, "b": 1, "p": 0}, min_coverage=0.6) is None
    assert pointwise_reward(r.criteria, {"a": None, "b": 1, "p": None}, min_coverage=0.5) is None  # 3 of 10


def test_fractional_weights_all_scored_are_covered():
    r = rubric(*({"id": f"c{i}", "text": "c", "weight": 0.1} for i in range(7)), {"id": "d", "text": "d", "weight": 0.2})
    scores = {c.cid: 1 for c in r.criteria}
    assert coverage(r.criteria, scores) == 1.0 and pointwise_reward(r.criteria, scores) == 1.0


def test_checks_never_stand_in_for_the_judge():
    r = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "s", "kind": "check", "check": {"type": "max_words", "value": 3}, "weight": 9})
    # the judge failed: only the check is scored, 90% of the weight; still no reward at any bar
    assert pointwise_reward(r.criteria, {"a": None, "s": 1}) is None
    assert pointwise_reward(r.criteria, {"a": None, "s": 1}, min_coverage=0.0) is None
    assert pointwise_reward(r.criteria, {"a": 1, "s": 1}, min_coverage=0.0) == 1.0
    # a rubric of checks alone needs no judge
    checks = rubric({"id": "s", "kind": "check", "check": {"type": "max_words", "value": 3}})
    assert pointwise_reward(checks.criteria, {"s": 1}) == 1.0


def test_hard_rule_unmet_vetoes():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "h", "text": "h", "kind": "hard_rule"})
    assert pointwise_reward(r.criteria, {"a": 1, "h": 0}) == 0.0
    assert pointwise_reward(r.criteria, {"a": 1, "h": 1}) == 1.0


def test_unscored_hard_rule_gives_null_at_any_coverage():
    r = rubric({"id": "a", "text": "a", "weight": 50}, {"id": "h", "text": "h", "kind": "hard_rule"})
    assert pointwise_reward(r.criteria, {"a": 1, "h": None}) is None
    assert pointwise_reward(r.criteria, {"a": 1, "h": None}, min_coverage=0.0) is None
    assert coverage(r.criteria, {"a": 1, "h": None}) == pytest.approx(50 / 51)


def test_unmet_hard_rule_gives_zero_whatever_else_failed():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "h", "text": "h", "kind": "hard_rule"},
               {"id": "g", "text": "g", "kind": "hard_rule"}, {"id": "s", "kind": "check", "check": {"type": "max_words", "value": 3}})
    assert pointwise_reward(r.criteria, {"a": None, "h": 0, "g": None, "s": None}) == 0.0


def test_negative_weights_count_in_coverage_by_absolute_value():
    r = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "p", "text": "p", "weight": -3})
    assert coverage(r.criteria, {"a": 1, "p": None}) == pytest.approx(1 / 4)
    assert pointwise_reward(r.criteria, {"a": 1, "p": None}) is None
    assert pointwise_reward(r.criteria, {"a": 1, "p": None}, min_coverage=0.25) == 1.0
    assert pointwise_reward(r.criteria, {"a": 1, "p": 1}) == 0.0  # the present pitfall outweighs


def test_zero_weight_criteria_coverage_counts_criteria():
    # A rubric file may not weigh every criterion 0, but the criteria a reward counts may all weigh 0
    # (a rubric's hard rules alone, the applicable ones): built as judgekit builds those.
    r = Rubric(name="t", criteria=(Criterion(id="a", text="a", weight=0), Criterion(id="b", text="b", weight=0)))
    assert coverage(r.criteria, {"a": 1, "b": None}) == 0.5
    assert coverage(r.criteria, {"a": 1, "b": 1}) == 1.0


def test_soft_verdicts_follow_the_same_rule():
    r = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "b", "text": "b", "weight": 1}, {"id": "h", "text": "h", "kind": "hard_rule"})
    probs = {"a": 0.8, "b": 0.4, "h": 0.9}
    assert pointwise_reward(r.criteria, {"a": 1, "b": 0, "h": 1}, probs) == pytest.approx((0.8 + 0.4 + 0.9) / 3)
    assert pointwise_reward(r.criteria, {"a": 1, "b": None, "h": 1}, probs) is None
    assert pointwise_reward(r.criteria, {"a": 1, "b": None, "h": 1}, probs, min_coverage=0.6) == pytest.approx((0.8 + 0.9) / 2)
    assert pointwise_reward(r.criteria, {"a": 1, "b": 1, "h": None}, probs, min_coverage=0.0) is None
    assert pointwise_reward(r.criteria, {"a": 1, "b": 1, "h": 0}, probs) == 0.0  # the gate stays hard


def test_no_positive_weight_uses_one_plus_form():
    r = rubric({"id": "p", "text": "p", "weight": -1}, {"id": "q", "text": "q", "weight": -3})
    assert pointwise_reward(r.criteria, {"p": 0, "q": 0}) == 1.0
    assert pointwise_reward(r.criteria, {"p": 1, "q": 0}) == pytest.approx(1 - 1 / 4)
    assert pointwise_reward(r.criteria, {"p": 1, "q": 1}) == 0.0
    assert pointwise_reward(r.criteria, {"p": 1, "q": None}) is None
    # the positive criterion unscored, the bar lowered: the pitfalls-only form over the scored ones
    mixed = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "p", "text": "p", "weight": -1}, {"id": "q", "text": "q", "weight": -3})
    assert pointwise_reward(mixed.criteria, {"a": None, "p": 1, "q": 0}, min_coverage=0.75) == pytest.approx(1 - 1 / 4)


def test_checks_count_like_any_criterion():
    r = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "s", "kind": "check", "check": {"type": "max_words", "value": 3}, "weight": 3})
    assert pointwise_reward(r.criteria, {"a": 1, "s": 0}) == pytest.approx(1 / 4)
