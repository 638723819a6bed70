"""The score formulas of SPEC section 3, as pure functions (no model, no I/O)."""

from __future__ import annotations

from typing import Mapping, Sequence

from judgekit.rubric import Criterion


def clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, value))


def pointwise_reward(criteria: Sequence[Criterion], scores: Mapping[str, int | None]) -> float | None:
    """HealthBench's formula, extended.

    reward = clip(sum(w_i for MET i) / sum(w_i for w_i > 0), 0, 1) over scored criteria;
    any hard_rule UNMET -> 0; every criterion unscored -> None; no positive weight among the
    scored criteria -> 1 + sum(w_i MET) / sum(|w_i|) (pitfalls only: 1 when none is present).
    """
    scored = [c for c in criteria if scores.get(c.cid) is not None]
    if not scored:
        return None
    if any(c.kind == "hard_rule" and scores[c.cid] == 0 for c in scored):
        return 0.0
    met_weight = sum(c.weight for c in scored if scores[c.cid] == 1)
    positive = sum(c.weight for c in scored if c.weight > 0)
    if positive > 0:
        return clip(met_weight / positive)
    total_abs = sum(abs(c.weight) for c in scored)
    if total_abs == 0:
        return None
    return clip(1.0 + met_weight / total_abs)
