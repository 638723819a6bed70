"""The tests a refinement's changes must pass before they are made (scipy/numpy; no model, no I/O).

A refinement acts on a sample of verdicts; a change that the sample cannot support is noise. Each
change has a stated test, and when the test fails the criterion is kept as it was and reported
"not enough evidence":

    drop as misaligned   at least `min_decisive` decisive labelled pairs (one response MET, the other
                         UNMET) AND a one-sided exact binomial test that the criterion prefers the
                         rejected response more often than chance: p < alpha
    drop as redundant    at least `min_support` responses scored on both AND the Clopper-Pearson
                         lower bound (1 - alpha) of their verdict agreement >= `redundancy_bound`
    change a weight      at least `min_responses` responses AND a seeded bootstrap over responses
                         whose (1 - alpha) percentile interval of the weight excludes the uniform
                         weight 1

Without labels, a criterion whose verdicts go against the rest of the rubric (negative correlation
with the mean of the other criteria) is flagged: nothing on unlabelled data says which side is
right, so its weight is never raised above the uniform one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from judgekit.authoring.weights import correlation_matrix, oriented


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def misalignment_test(prefers_chosen: int, prefers_rejected: int, *, min_decisive: int, alpha: float) -> Verdict:
    """Whether the labelled pairs show the criterion prefers rejected responses beyond chance."""
    decisive = prefers_chosen + prefers_rejected
    counts = f"prefers the rejected response in {prefers_rejected} of {decisive} decisive pairs"
    if decisive < min_decisive:
        return Verdict(False, f"not enough evidence: {counts} (the test needs at least {min_decisive})")
    p = float(stats.binomtest(prefers_rejected, decisive, 0.5, alternative="greater").pvalue)
    if p >= alpha:
        return Verdict(False, f"not enough evidence: {counts}, one-sided binomial p = {p:.3g} >= {alpha:g}")
    return Verdict(True, f"misaligned: {counts}, one-sided binomial p = {p:.3g} < {alpha:g}")


def redundancy_test(agree: int, support: int, *, min_support: int, bound: float, alpha: float) -> Verdict:
    """Whether two criteria's verdicts agree so often that one tells nothing the other does not."""
    if support < min_support or support == 0:
        return Verdict(False, f"not enough evidence: {support} responses scored on both (needs {min_support})")
    low = float(stats.binomtest(agree, support).proportion_ci(confidence_level=1 - alpha, method="exact").low)
    text = f"agreement's {1 - alpha:.0%} Clopper-Pearson lower bound {low:.2f}"
    return Verdict(low >= bound, f"{text} >= {bound:g}" if low >= bound else f"not enough evidence: {text} < {bound:g}")


def informativeness(met_rate: float | None) -> float:
    """How much one verdict tells, in bits: the binary entropy of the met rate (1 at 1/2, 0.54 at 1/8 or
    7/8, 0 for a criterion met by all or by none)."""
    if met_rate is None:
        return 0.0
    return float(stats.entropy([met_rate, 1.0 - met_rate], base=2))


def rest_correlation(scores: np.ndarray, signs: Sequence[float]) -> np.ndarray:
    """Each criterion's correlation with the mean of the others (good side up; unscored cells take the
    column mean; 0 when undefined)."""
    s = oriented(np.asarray(scores, dtype=float), signs)
    k = s.shape[1]
    out = np.zeros(k)
    if k < 2 or len(s) == 0:
        return out
    counts = (~np.isnan(s)).sum(axis=0)
    means = np.where(counts > 0, np.nansum(s, axis=0) / np.maximum(counts, 1), 0.0)
    filled = np.where(np.isnan(s), means, s)
    for i in range(k):
        rest = np.delete(filled, i, axis=1).mean(axis=1)
        out[i] = correlation_matrix(np.column_stack([filled[:, i], rest]))[0, 1]
    return out


WeightFn = Callable[[np.ndarray], np.ndarray]


def bootstrap_interval(scores: np.ndarray, weigh: WeightFn, *, resamples: int, alpha: float, seed: int) -> np.ndarray:
    """(criteria x 2) percentile interval of each weight over a seeded bootstrap of the responses."""
    s = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    draws = np.array([weigh(s[rng.integers(0, len(s), len(s))]) for _ in range(resamples)])
    return np.column_stack([np.quantile(draws, alpha / 2, axis=0), np.quantile(draws, 1 - alpha / 2, axis=0)])


def mean_ci(values: Sequence[float], *, alpha: float = 0.05, seed: int = 0) -> tuple[float | None, list[float] | None]:
    """Mean and seeded percentile-bootstrap interval (scipy) of per-pair values (1 right, 1/2 tie, 0 wrong)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None, None
    mean = round(float(v.mean()), 4)
    if v.size < 2 or np.all(v == v[0]):
        return mean, [mean, mean]
    res = stats.bootstrap((v,), np.mean, confidence_level=1 - alpha, method="percentile", n_resamples=2000,
                          random_state=np.random.default_rng(seed))
    ci = res.confidence_interval
    return mean, [round(float(ci.low), 4), round(float(ci.high), 4)]
