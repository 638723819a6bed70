"""Correlation-aware weights: the formula on small matrices whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgekit.authoring.weights import (
    correlation_aware_weights,
    correlation_matrix,
    effective_number,
    inverse_power,
    oriented,
    shrink,
    uniform_weights,
)

A = [1, 1, 1, 1, 0, 0, 0, 0]
B = [1, 1, 1, 0, 0, 0, 0, 1]  # correlation 0.5 with A
C = [1, 0, 1, 0, 1, 0, 1, 0]  # uncorrelated with A and B


def matrix(*cols: list[float]) -> np.ndarray:
    return np.array(cols, dtype=float).T


def test_independent_criteria_get_uniform_weights() -> None:
    s = matrix(A, C)
    assert np.allclose(correlation_matrix(s), np.eye(2))
    assert np.allclose(correlation_aware_weights(s), [1.0, 1.0])


def test_correlated_pair_shares_weight_numbers() -> None:
    s = matrix(A, B, C)
    corr = correlation_matrix(s)
    assert corr[0, 1] == pytest.approx(0.5)
    assert corr[0, 2] == pytest.approx(0.0) and corr[1, 2] == pytest.approx(0.0)
    w = correlation_aware_weights(s, lam=0.1)
    # Before normalisation: pair 1/sqrt(1 + 0.9*0.5) each, independent 1; then scaled to sum 3.
    raw = np.array([1 / math.sqrt(1.45), 1 / math.sqrt(1.45), 1.0])
    assert np.allclose(w, raw * 3 / raw.sum())
    assert w[0] == pytest.approx(0.9363, abs=1e-4) and w[2] == pytest.approx(1.1274, abs=1e-4)
    assert w.sum() == pytest.approx(3.0)


def test_duplicated_criterion_shares_one_weight_with_full_inverse() -> None:
    s = matrix(A, A, C)
    w_half = correlation_aware_weights(s, lam=0.1, power=0.5)
    # p = 1/2: each copy 1/sqrt(1.9) of the independent criterion's weight.
    assert w_half[0] / w_half[2] == pytest.approx(1 / math.sqrt(1.9))
    w_full = correlation_aware_weights(s, lam=0.1, power=1.0)
    # p = 1: the two copies together weigh 2/1.9 of the independent one: they share its weight.
    assert (w_full[0] + w_full[1]) / w_full[2] == pytest.approx(2 / 1.9)
    assert w_full[0] == pytest.approx(w_full[1])


def test_pitfall_keeps_its_sign_and_is_oriented() -> None:
    flaw = [1 - x for x in A]  # the flaw is present exactly when A is unmet: same information as A
    s = matrix(A, flaw, C)
    w = correlation_aware_weights(s, signs=[1, -1, 1])
    assert w[1] < 0 < w[0]
    assert abs(w[1]) == pytest.approx(w[0])  # after orientation they are one quality, counted twice
    assert abs(w[0]) < w[2]
    assert np.abs(w).sum() == pytest.approx(3.0)
    assert np.allclose(oriented(s, [1, -1, 1])[:, 1], A)


def test_negative_magnitudes_are_clipped() -> None:
    # The last criterion correlates positively with three mutually anti-correlated ones: whitening
    # gives it a negative raw magnitude (-0.223), which is clipped to 0.
    s = matrix([0, 1, 1, 1, 0, 1, 1, 1], [1, 0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1])
    raw = inverse_power(shrink(correlation_matrix(s), 0.1)) @ np.ones(4)
    assert raw[3] == pytest.approx(-0.223, abs=1e-3)
    w = correlation_aware_weights(s, lam=0.1)
    assert w[3] == 0 and (w[:3] > 0).all()
    assert w.sum() == pytest.approx(3.0)
    assert np.allclose(w[:3], raw[:3] * 3 / raw[:3].sum())


def test_constant_and_unscored_columns() -> None:
    s = matrix([1, 1, 1, 1], [1, 0, np.nan, 0], [1, 0, 1, 0])
    corr = correlation_matrix(s)
    assert corr[0, 1] == 0 and corr[0, 2] == 0 and corr[0, 0] == 1
    assert not np.isnan(corr).any()
    assert np.isfinite(correlation_aware_weights(s)).all()


def test_helpers() -> None:
    m = np.array([[1.0, 0.8], [0.8, 1.0]])
    assert np.allclose(shrink(m, 0.25), [[1.0, 0.6], [0.6, 1.0]])
    root = inverse_power(m, 0.5)
    assert np.allclose(root @ root @ m, np.eye(2))
    assert np.allclose(uniform_weights([2, -1]), [1, -1])
    assert effective_number(np.eye(3)) == pytest.approx(3.0)
    assert effective_number(np.ones((2, 2))) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        shrink(m, 2.0)
    assert correlation_aware_weights(np.zeros((3, 0))).size == 0
