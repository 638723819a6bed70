"""The agreement statistics against published worked examples, scikit-learn, and the coverage of their
confidence intervals on synthetic data whose true value is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from judgekit.evaluation.stats import (
    binary_statistics,
    bootstrap_ci,
    codes,
    estimate,
    kappa_of,
    macro_f1_of,
    mean_of,
    with_ci,
)


def _raters(table: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Two raters' codes from a contingency table (rows: rater A's category, columns: rater B's)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return np.array(a), np.array(b)


def test_kappa_of_a_published_three_category_example() -> None:
    # Fleiss, Levin & Paik, Statistical Methods for Rates and Proportions (Wiley): two psychiatrists
    # diagnose 100 subjects as psychotic, neurotic or organic; p_o = .89, p_e = .66, kappa = .68.
    a, b = _raters([[75, 1, 4], [5, 4, 1], [0, 0, 10]])
    kappa = estimate(kappa_of(a, b, 3), len(a))
    assert kappa == pytest.approx(0.23 / 0.34, abs=1e-4) and round(kappa, 2) == 0.68
    assert kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-4)


def test_kappa_of_the_two_by_two_textbook_example() -> None:
    # 50 grant proposals read by two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no:
    # p_o = .70, p_e = .50, kappa = .40.
    a, b = _raters([[20, 5], [10, 15]])
    assert estimate(kappa_of(a, b, 2), 50) == 0.4 == pytest.approx(cohen_kappa_score(a, b))


def test_kappa_is_none_when_undefined_and_codes_skip_the_unknown() -> None:
    same = np.zeros(5, dtype=np.intp)
    assert estimate(kappa_of(same, same, 3), 5) is None  # both raters use one category: p_e = 1
    assert list(codes(["A", "tie", None, "B", "x"], ("A", "B", "tie"))) == [0, 2, -1, 1, -1]


@pytest.mark.parametrize("seed", range(5))
def test_binary_statistics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 40)
    pred = np.where(rng.random(40) < 0.7, truth, 1 - truth)
    stats = binary_statistics(list(truth), list(pred))
    p, r, f, _ = precision_recall_fscore_support(truth, pred, average="binary", zero_division=0)
    got = {name: estimate(s, 40) for name, s in stats.items()}
    assert got == pytest.approx({"precision": p, "recall": r, "f1": f, "kappa": cohen_kappa_score(truth, pred)}, abs=1e-4)


def test_binary_statistics_with_no_positive_follow_zero_division_zero() -> None:
    stats = binary_statistics([0, 0, 0, 1], [0, 0, 0, 0])
    assert [estimate(stats[k], 4) for k in ("precision", "recall", "f1")] == [0.0, 0.0, 0.0]


def test_macro_f1_leaves_out_rows_without_a_label_or_verdict_per_criterion() -> None:
    nan = np.nan
    truth = np.array([[1, 0, 1, 1, nan], [0, 0, 1, nan, 1]])
    pred = np.array([[1, 1, 1, 0, 1], [0, 1, nan, 0, 1]])
    expected = np.mean([f1_score([1, 0, 1, 1], [1, 1, 1, 0]), f1_score([0, 0, 1], [0, 1, 1])])
    assert estimate(macro_f1_of(truth, pred), 5) == pytest.approx(expected, abs=1e-4)


def test_the_interval_is_scipys_percentile_bootstrap_and_seeded() -> None:
    values = np.array([1.0] * 13 + [0.0] * 7)
    ci = bootstrap_ci(mean_of(values), 20, seed=7)
    reference = bootstrap((values,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(7))
    assert ci == pytest.approx([reference.confidence_interval.low, reference.confidence_interval.high], abs=1e-4)
    assert ci == bootstrap_ci(mean_of(values), 20, seed=7)
    assert with_ci(mean_of([1.0]), 1, seed=0) == (1.0, None)  # one unit: no interval
    assert with_ci(mean_of([]), 0, seed=0) == (None, None)


def test_a_seeded_interval_on_continuous_data_is_the_seeds_and_only_the_seeds() -> None:
    # On 0/1 data most seeds give the same interval; on continuous data each seed gives its own, so
    # an interval that ignored its seed would differ from scipy's for that seed (and vary run to run).
    values = np.random.default_rng(11).normal(size=30)
    intervals = {seed: bootstrap_ci(mean_of(values), 30, seed=seed) for seed in (7, 8)}
    for seed, ci in intervals.items():
        reference = bootstrap((values,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(seed))
        assert ci == pytest.approx([reference.confidence_interval.low, reference.confidence_interval.high], abs=1e-4)
        assert ci == bootstrap_ci(mean_of(values), 30, seed=seed)
    assert intervals[7] != intervals[8]


def test_accuracy_interval_covers_the_true_accuracy_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2026)
    true_accuracy, n, datasets = 0.7, 80, 400
    hits = 0
    for k in range(datasets):
        correct = (rng.random(n) < true_accuracy).astype(float)
        low, high = bootstrap_ci(mean_of(correct), n, seed=k, resamples=1000)
        hits += low <= true_accuracy <= high
    assert 0.91 <= hits / datasets <= 0.98, hits / datasets


def test_paired_difference_interval_covers_the_true_difference() -> None:
    # Two judges on the same pairs: B is right on 80%, A on 70%, correlated through shared hard pairs.
    rng = np.random.default_rng(11)
    n, datasets, hits = 100, 300, 0
    for k in range(datasets):
        hard = rng.random(n) < 0.2
        a = (~hard & (rng.random(n) < 0.875)).astype(float)  # 0.8 * 0.875 = 0.70
        b = (~hard).astype(float)  # 0.80
        low, high = bootstrap_ci(mean_of(b - a), n, seed=k, resamples=1000)
        hits += low <= 0.1 <= high
    assert 0.91 <= hits / datasets <= 0.98, hits / datasets


def test_resamples_where_kappa_is_undefined_are_left_out_of_its_interval() -> None:
    truth, pred = [1, 1, 1, 0, 0, 0, 1, 1, 0], [1, 1, 0, 1, 0, 0, 0, 1, 0]
    kappa = binary_statistics(truth, pred)["kappa"]
    value, ci = with_ci(kappa, 9, seed=0)
    assert value == pytest.approx(cohen_kappa_score(truth, pred), abs=1e-4)
    assert ci is not None and ci[0] <= value <= ci[1]
    always_same = kappa_of(np.zeros(9, dtype=np.intp), np.zeros(9, dtype=np.intp), 2)
    assert bootstrap_ci(always_same, 9, seed=0) is None  # undefined on every resample
