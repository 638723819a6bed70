"""Agreement statistics with seeded bootstrap confidence intervals.

Every statistic here is a function of the indexes of the units it is computed over (pairs or rows):
given an index array of shape (..., n) it returns one value per leading position. Called with
`arange(n)` it gives the estimate; scipy's bootstrap calls it on thousands of resampled index
arrays at once (percentile interval, resampling the units with replacement, so paired data stays
paired). Cohen's kappa, precision, recall and F1 are computed from confusion counts so that the
resamples are counted in one numpy pass; the test suite checks them against scikit-learn's
`cohen_kappa_score` and `precision_recall_fscore_support` and a published kappa example.

Undefined values (kappa when both raters use one category only, a rate over nothing) are None in
the report, never a made-up number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from judgekit.errors import InputError

try:
    from scipy.stats import bootstrap
except ImportError:  # the `eval` extra
    raise InputError("`judgekit eval` needs scipy: pip install 'judgekit[eval]'") from None

CONFIDENCE = 0.95
RESAMPLES = 2000
BATCH = 100  # resamples computed at once, at most (the draws are the same whatever the batch)
CELLS = 1_000_000  # resampled units held at once: the batch shrinks as n grows, so memory does not grow with n

Indexes = NDArray[np.int32] | NDArray[np.intp]  # int32 below 2**31 units: half the memory per resample
Statistic = Callable[[Indexes], NDArray[np.float64]]  # index arrays (..., n) -> values (...)


def rounded(value: float | None) -> float | None:
    """A statistic as reported: 4 decimals, None when undefined."""
    if value is None or math.isnan(value):
        return None
    return round(float(value), 4)


def unit_indexes(n: int) -> Indexes:
    """The indexes of n units."""
    return np.arange(n, dtype=np.int32 if n < 2**31 else np.intp)


def estimate(statistic: Statistic, n: int) -> float | None:
    """The statistic over all n units (None when there are none or it is undefined)."""
    return rounded(float(statistic(unit_indexes(n)))) if n else None


def bootstrap_ci(statistic: Statistic, n: int, *, seed: int, resamples: int = RESAMPLES) -> list[float] | None:
    """The 95% percentile interval of the statistic over `resamples` seeded resamples of the n units.
    Resamples on which the statistic is undefined (kappa on a resample where both raters use one
    category) are left out; None with fewer than 2 units or when most resamples are undefined."""
    if n < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # undefined resamples are handled below
        result = bootstrap((unit_indexes(n),), lambda idx, axis: statistic(idx), vectorized=True, n_resamples=resamples,
                           batch=max(1, min(BATCH, CELLS // n)), method="percentile", confidence_level=CONFIDENCE,
                           rng=np.random.default_rng(seed))
    values = np.asarray(result.bootstrap_distribution, dtype=float)
    defined = values[~np.isnan(values)]
    if 2 * len(defined) < len(values):
        return None
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def with_ci(statistic: Statistic, n: int, *, seed: int) -> tuple[float | None, list[float] | None]:
    return estimate(statistic, n), bootstrap_ci(statistic, n, seed=seed)


# ---- the statistics ----------------------------------------------------------------------------


def mean_of(values: Sequence[float] | NDArray[np.generic]) -> Statistic:
    """The mean of per-unit values (accuracy from 1/0 per pair; a paired difference from -1/0/1). Booleans
    and small integers stay as they are: resamples then gather from an array a fraction of the size."""
    array = np.asarray(values)
    if array.dtype.kind not in "biu":
        array = array.astype(float)
    return lambda idx: array[idx].mean(axis=-1)


def codes(values: Sequence[str | None], categories: Sequence[str]) -> NDArray[np.intp]:
    """Category indexes of `values`; a value outside the categories (e.g. None) gets -1."""
    where = {c: k for k, c in enumerate(categories)}
    return np.array([where.get(v, -1) if v is not None else -1 for v in values], dtype=np.intp)


def kappa_of(rater_a: NDArray[np.integer], rater_b: NDArray[np.integer], categories: int) -> Statistic:
    """Cohen's kappa of two raters' category codes (0..categories-1) over the same units:
    (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e the agreement expected from the
    raters' marginal shares; NaN when p_e = 1 (both raters use one and the same category only).
    Counted from the codes, one category at a time: no per-unit array wider than the units."""
    a_codes, b_codes = np.asarray(rater_a, dtype=np.int8), np.asarray(rater_b, dtype=np.int8)

    def kappa(idx: Indexes) -> NDArray[np.float64]:
        a, b = a_codes[idx], b_codes[idx]  # (..., n)
        observed = (a == b).mean(axis=-1)
        expected = sum(((a == k).mean(axis=-1) * (b == k).mean(axis=-1) for k in range(categories)),
                       start=np.zeros(observed.shape))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(expected < 1.0, (observed - expected) / (1.0 - expected), np.nan)

    return kappa


def _binary_counts(truth: NDArray[np.bool_], pred: NDArray[np.bool_], idx: Indexes) -> tuple[NDArray[np.float64], ...]:
    t, p = truth[idx], pred[idx]
    return (t & p).sum(axis=-1).astype(float), (~t & p).sum(axis=-1).astype(float), (t & ~p).sum(axis=-1).astype(float)


def _ratio(top: NDArray[np.float64], bottom: NDArray[np.float64]) -> NDArray[np.float64]:
    """top / bottom, and 0 where bottom is 0 (scikit-learn's zero_division=0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)


def binary_statistics(truth: Sequence[int], pred: Sequence[int]) -> dict[str, Statistic]:
    """Precision, recall and F1 of `pred` against `truth` (1 = the positive class, here MET), and
    Cohen's kappa between them; a rate over nothing (no predicted or no true positive) is 0, as
    scikit-learn reports it with zero_division=0."""
    t, p = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)

    def precision(idx: Indexes) -> NDArray[np.float64]:
        tp, fp, _ = _binary_counts(t, p, idx)
        return _ratio(tp, tp + fp)

    def recall(idx: Indexes) -> NDArray[np.float64]:
        tp, _, fn = _binary_counts(t, p, idx)
        return _ratio(tp, tp + fn)

    def f1(idx: Indexes) -> NDArray[np.float64]:
        tp, fp, fn = _binary_counts(t, p, idx)
        return _ratio(2 * tp, 2 * tp + fp + fn)

    return {"precision": precision, "recall": recall, "f1": f1,
            "kappa": kappa_of(t.astype(np.intp), p.astype(np.intp), 2)}


def macro_f1_of(truth: NDArray[np.float64], pred: NDArray[np.float64]) -> Statistic:
    """The mean over criteria of each criterion's F1, from (criteria, n) arrays of 1/0 with NaN
    where a row has no label or no verdict for that criterion (that row is left out of that
    criterion only); the rows are the resampled units, so one resample keeps a row's criteria together."""
    known = ~np.isnan(truth) & ~np.isnan(pred)
    t, p = (np.nan_to_num(truth) > 0) & known, (np.nan_to_num(pred) > 0) & known

    def macro(idx: Indexes) -> NDArray[np.float64]:
        rows_t, rows_p = t[:, idx], p[:, idx]  # (criteria, ..., n)
        tp = (rows_t & rows_p).sum(axis=-1)
        wrong = (rows_t ^ rows_p).sum(axis=-1)
        f1 = _ratio(2.0 * tp, 2.0 * tp + wrong)
        return f1.mean(axis=0)

    return macro
