"""Correlation-aware criterion weights (RRD), as pure numpy functions (no model, no I/O).

S is the criterion score matrix, responses x criteria, with 1 (MET), 0 (UNMET) and NaN (unscored).
Criteria that measure the same thing move together; giving each of them a full weight counts that
quality twice. The weights whiten the criteria first:

    C    = correlation matrix of S's columns (scores oriented so 1 is good: pitfalls flipped)
    C_s  = (1 - lam) * C + lam * diag(C)                     shrinkage, lam = 0.1 by default
    m    = C_s^(-p) . 1                                      p = 1/2 by default (RRD's whitening)
    m    = max(m, 0);  m *= n_pos / sum(m)                   n_pos = criteria with m > 0
    w_i  = sign_i * m_i                                      pitfalls keep their negative sign

With uncorrelated criteria every weight is 1 (uniform). Two criteria with correlation rho each get
(1 + (1 - lam) rho)^(-p) before normalisation, so a correlated pair together weighs
2 / sqrt(1 + (1 - lam) rho) (p = 1/2) instead of 2; with p = 1 a perfectly correlated pair
shares about the weight one independent criterion gets (2 / (2 - lam)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

_EPS = 1e-9


def oriented(scores: np.ndarray, signs: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Scores with pitfall columns (sign < 0) flipped to 1 - s, so that 1 is always the good side."""
    s = np.asarray(scores, dtype=float)
    if signs is None:
        return s.copy()
    flip = np.asarray(signs, dtype=float) < 0
    out = s.copy()
    out[:, flip] = 1.0 - out[:, flip]
    return out


def correlation_matrix(scores: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns; NaN cells are imputed with the column mean; a constant
    column correlates 0 with every other column and 1 with itself."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError("scores must be a 2-d matrix (responses x criteria)")
    k = s.shape[1]
    if k == 0:
        return np.zeros((0, 0))
    filled = s.copy()
    counts = (~np.isnan(s)).sum(axis=0)
    means = np.where(counts > 0, np.nansum(s, axis=0) / np.maximum(counts, 1), 0.0)
    rows, cols = np.where(np.isnan(filled))
    filled[rows, cols] = means[cols]
    centred = filled - filled.mean(axis=0, keepdims=True)
    std = np.sqrt((centred**2).sum(axis=0))
    live = std > _EPS
    corr = np.eye(k)
    if live.any():
        z = centred[:, live] / std[live]
        sub = np.clip(z.T @ z, -1.0, 1.0)
        idx = np.where(live)[0]
        corr[np.ix_(idx, idx)] = sub
    np.fill_diagonal(corr, 1.0)
    return corr


def shrink(matrix: np.ndarray, lam: float = 0.1) -> np.ndarray:
    """(1 - lam) * M + lam * diag(M): pulls off-diagonal entries toward 0, keeps M invertible."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError("the shrinkage lam must be in [0, 1]")
    m = np.asarray(matrix, dtype=float)
    return (1.0 - lam) * m + lam * np.diag(np.diag(m))


def inverse_power(matrix: np.ndarray, power: float = 0.5) -> np.ndarray:
    """M^(-power) of a symmetric positive semi-definite matrix (eigenvalues floored at 1e-9)."""
    m = np.asarray(matrix, dtype=float)
    vals, vecs = np.linalg.eigh((m + m.T) / 2.0)
    vals = np.maximum(vals, _EPS)
    return (vecs * vals**-power) @ vecs.T


def correlation_aware_weights(
    scores: np.ndarray,
    signs: Sequence[float] | None = None,
    *,
    lam: float = 0.1,
    power: float = 0.5,
    informative: bool = False,
) -> np.ndarray:
    """Weights, one per column of `scores` (see the module docstring for the formula).

    `signs`: +1 for a positive criterion, -1 for a pitfall (MET = flaw present). The result sums to
    the number of criteria with a positive magnitude, each pitfall's weight being negative.
    `informative`: each magnitude is also multiplied by the criterion's information, the binary
    entropy of its met rate (1 at 1/2; 0.54 at 1/8 or 7/8), before the normalisation.
    """
    s = np.asarray(scores, dtype=float)
    k = s.shape[1] if s.ndim == 2 else 0
    if k == 0:
        return np.zeros(0)
    sign = np.ones(k) if signs is None else np.where(np.asarray(signs, dtype=float) < 0, -1.0, 1.0)
    good = oriented(s, sign)
    corr = shrink(correlation_matrix(good), lam)
    magnitude = inverse_power(corr, power) @ np.ones(k)
    magnitude = np.maximum(magnitude, 0.0)
    if informative:
        magnitude = magnitude * column_information(good)
    positive = magnitude > _EPS
    if not positive.any():
        return np.zeros(k)
    magnitude = np.where(positive, magnitude, 0.0) * (positive.sum() / magnitude[positive].sum())
    return sign * magnitude


def column_information(scores: np.ndarray) -> np.ndarray:
    """Binary entropy (bits) of each column's met rate; 0 for a column never scored."""
    s = np.asarray(scores, dtype=float)
    counts = (~np.isnan(s)).sum(axis=0)
    rate = np.where(counts > 0, np.nansum(s, axis=0) / np.maximum(counts, 1), 0.0)
    return np.asarray(stats.entropy(np.vstack([rate, 1.0 - rate]), base=2), dtype=float)


def uniform_weights(signs: Sequence[float]) -> np.ndarray:
    """The baseline: every criterion weighs 1 (pitfalls -1)."""
    return np.where(np.asarray(signs, dtype=float) < 0, -1.0, 1.0)


def effective_number(corr: np.ndarray) -> float:
    """How many independent criteria the rubric is worth: (tr C)^2 / tr(C^2) (participation ratio)."""
    c = np.asarray(corr, dtype=float)
    if c.size == 0:
        return 0.0
    return float(np.trace(c) ** 2 / max(np.trace(c @ c), _EPS))
