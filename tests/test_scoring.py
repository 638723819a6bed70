"""SPEC section 3, pointwise: the reward formula as a pure function."""

import pytest

from judgekit.rubric import rubric_from_data
from judgekit.scoring import pointwise_reward


def rubric(*criteria):
    return rubric_from_data({"name": "t", "criteria": list(criteria)})


def test_weighted_met_over_positive_weights():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3}, {"id": "p", "text": "p", "weight": -2})
    assert pointwise_reward(r.criteria, {"a": 1, "b": 0, "p": 0}) == pytest.approx(5 / 8)
    # a pitfall that is present subtracts its weight
    assert pointwise_reward(r.criteria, {"a": 1, "b": 1, "p": 1}) == pytest.approx(6 / 8)
    # and the result is clipped at 0
    assert pointwise_reward(r.criteria, {"a": 0, "b": 0, "p": 1}) == 0.0


def test_unscored_criteria_leave_both_sums():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "b", "text": "b", "weight": 3})
    assert pointwise_reward(r.criteria, {"a": None, "b": 1}) == 1.0
    assert pointwise_reward(r.criteria, {"a": None, "b": None}) is None


def test_hard_rule_unmet_vetoes():
    r = rubric({"id": "a", "text": "a", "weight": 5}, {"id": "h", "text": "h", "kind": "hard_rule"})
    assert pointwise_reward(r.criteria, {"a": 1, "h": 0}) == 0.0
    assert pointwise_reward(r.criteria, {"a": 1, "h": 1}) == 1.0
    # an unscored hard rule is not a veto
    assert pointwise_reward(r.criteria, {"a": 1, "h": None}) == 1.0


def test_no_positive_weight_uses_one_plus_form():
    r = rubric({"id": "p", "text": "p", "weight": -1}, {"id": "q", "text": "q", "weight": -3})
    assert pointwise_reward(r.criteria, {"p": 0, "q": 0}) == 1.0
    assert pointwise_reward(r.criteria, {"p": 1, "q": 0}) == pytest.approx(1 - 1 / 4)
    assert pointwise_reward(r.criteria, {"p": 1, "q": 1}) == 0.0


def test_checks_count_like_any_criterion():
    r = rubric({"id": "a", "text": "a", "weight": 1}, {"id": "s", "kind": "check", "check": {"type": "max_words", "value": 3}, "weight": 3})
    assert pointwise_reward(r.criteria, {"a": 1, "s": 0}) == pytest.approx(1 / 4)
