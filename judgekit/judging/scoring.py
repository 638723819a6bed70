"""The score formulas of docs/rubrics-and-formats.md, as pure functions (no model, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from judgekit.rubric.models import Criterion


def clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, value))


def coverage(criteria: Sequence[Criterion], scores: Mapping[str, float | None]) -> float:
    """The scored share of the rubric's total absolute weight, in [0, 1].

    A rubric whose weights are all 0 has no weight to share: then it is the scored share of its
    criteria (an empty rubric counts as fully covered).
    """
    total = sum(abs(c.weight) for c in criteria)
    if total == 0:
        return sum(1 for c in criteria if scores.get(c.cid) is not None) / len(criteria) if criteria else 1.0
    return sum(abs(c.weight) for c in criteria if scores.get(c.cid) is not None) / total


def pointwise_reward(
    criteria: Sequence[Criterion], scores: Mapping[str, float | None], probs: Mapping[str, float | None] | None = None,
    *, min_coverage: float = 1.0,
) -> float | None:
    """HealthBench's formula, extended, given only when it can be trusted.

    Any gate (a hard_rule, or a check with `gate: true`) UNMET -> 0, whatever else failed. Otherwise
    None when any gate is unscored,
    when the scored criteria carry less than `min_coverage` of the total absolute weight, or when
    the rubric has model-judged criteria and none of them is scored (a dead judge never earns a
    reward from the checks alone, whatever `min_coverage`). Then, over the scored criteria:
    reward = clip(sum(w_i for MET i) / sum(w_i for w_i > 0), 0, 1); with no positive weight among
    them, 1 + sum(w_i MET) / sum(|w_i|) (pitfalls only: 1 when none is present). A rated criterion
    counts its normalised rating (rating - min) / (max - min) in place of MET's 1. Criteria judged
    not applicable are left out by the caller: they are in neither sum nor the coverage.

    With `probs` (soft verdicts), P(MET) from the judge's log-probabilities stands in for 1/0
    where it is given; checks and criteria without one count as scored. The hard-rule gate stays hard.
    """
    scored = [c for c in criteria if scores.get(c.cid) is not None]
    if any(c.is_gate and scores[c.cid] == 0 for c in scored):
        return 0.0
    if not scored or any(c.is_gate and scores.get(c.cid) is None for c in criteria):
        return None
    # The tolerance keeps float sums of fractional weights from missing the bar by rounding.
    if coverage(criteria, scores) < min_coverage - 1e-9:
        return None
    if any(c.kind != "check" for c in criteria) and all(c.kind == "check" for c in scored):
        return None

    def met(c: Criterion) -> float:  # 1 | 0, a normalised rating, or P(MET)
        p = probs.get(c.cid) if probs is not None else None
        return float(p) if p is not None else float(scores[c.cid] or 0.0)

    met_weight = sum(c.weight * met(c) for c in scored)
    positive = sum(c.weight for c in scored if c.weight > 0)
    if positive > 0:
        return clip(met_weight / positive)
    total_abs = sum(abs(c.weight) for c in scored)
    if total_abs == 0:
        return None
    return clip(1.0 + met_weight / total_abs)


# ---- pairwise -----------------------------------------------------------------------------------

_PREF_SIGN = {"A": 1, "B": -1, "tie": 0}


def order_consistent_preference(first: str | None, swapped: str | None) -> tuple[int | None, bool]:
    """One criterion's p_i from the two orders, and whether the two answers disagreed.

    `first` is the answer with (A, B) shown in that order, `swapped` the answer with (B, A) shown,
    in the judge's own labels (so its "A" is the original B). Either unscored -> (None, False);
    disagreement after mapping back -> (0, True).
    """
    if first is None or swapped is None:
        return None, False
    p_first = _PREF_SIGN[first]
    p_swapped = -_PREF_SIGN[swapped]
    if p_first != p_swapped:
        return 0, True
    return p_first, False


def outcome_preference(criterion: Criterion, score_a: float | None, score_b: float | None) -> int | None:
    """p_i for a criterion decided per side (a check, or a hard rule judged pointwise).

    MET is good for a positive weight and the flaw for a negative one; the side with the better
    outcome is preferred, equal outcomes tie; an unscored side leaves the criterion unscored.
    """
    if score_a is None or score_b is None:
        return None
    good_a, good_b = (score_a, score_b) if criterion.weight >= 0 else (1 - score_a, 1 - score_b)
    return (good_a > good_b) - (good_a < good_b)


def pairwise_margin(criteria: Sequence[Criterion], preferences: Mapping[str, int | None]) -> float | None:
    """margin = sum(|w_i| p_i) / sum(|w_i|) over scored criteria; None if none is scored."""
    scored = [c for c in criteria if preferences.get(c.cid) is not None]
    if not scored:
        return None
    total = sum(abs(c.weight) for c in scored)
    if total == 0:
        return 0.0
    return sum(abs(c.weight) * int(preferences[c.cid]) for c in scored) / total  # type: ignore[arg-type]


def pairwise_winner(margin: float | None) -> str | None:
    if margin is None:
        return None
    return "A" if margin > 0 else "B" if margin < 0 else "tie"


def hard_rule_gate(
    criteria: Sequence[Criterion], scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None],
) -> str | None:
    """"A" or "B" when that side passes every gate the other fails at least one of, else None.

    A side loses outright if it fails (UNMET) a gate (a hard rule, or a check with `gate: true`)
    the other side passes; if each side
    fails a rule the other passes (both vetoed), or both fail the same, no side wins by the gate:
    the margin decides, the hard rules in it like any criterion.
    """
    a_loses = any(scores_a.get(c.cid) == 0 and scores_b.get(c.cid) == 1 for c in criteria if c.is_gate)
    b_loses = any(scores_b.get(c.cid) == 0 and scores_a.get(c.cid) == 1 for c in criteria if c.is_gate)
    if a_loses and not b_loses:
        return "B"
    if b_loses and not a_loses:
        return "A"
    return None


def pair_verdict(
    criteria: Sequence[Criterion], preferences: Mapping[str, int | None],
    scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None],
) -> tuple[str | None, float | None]:
    """(winner, margin) of one pair, given only when it can be trusted.

    A gate unscored on either side leaves no winner (it may veto either side), and so does a
    rubric whose model-judged criteria are all unscored (a dead judge; checks never stand in for
    it). Then a side failing a hard rule the other passes loses outright (margin -1 / +1); else the
    margin over the scored criteria (no coverage bar on the margin).
    """
    gates = [c for c in criteria if c.is_gate]
    if any(scores_a.get(c.cid) is None or scores_b.get(c.cid) is None for c in gates):
        return None, None
    judged = [c for c in criteria if c.kind != "check"]
    if judged and all(preferences.get(c.cid) is None for c in judged):
        return None, None
    gate = hard_rule_gate(criteria, scores_a, scores_b)
    if gate is not None:
        return gate, 1.0 if gate == "A" else -1.0
    margin = pairwise_margin(criteria, preferences)
    return pairwise_winner(margin), margin


# ---- groups ---------------------------------------------------------------------------------------


def margin_reward(margin: float | None) -> float | None:
    """A margin in [-1, 1] as a reward in [0, 1]: (margin + 1) / 2 (a tie with the anchor is 0.5)."""
    return None if margin is None else clip((margin + 1.0) / 2.0)


def bradley_terry(n: int, outcomes: Sequence[tuple[int, int, float]], *, prior: float = 0.5,
                  max_iter: int = 500, tol: float = 1e-9) -> list[float]:
    """Bradley-Terry strengths by the MM algorithm (Hunter 2004), geometric mean 1.

    `outcomes` are (i, j, s): one game between i and j in which i scored s in [0, 1] (1 win,
    0 loss, 0.5 tie; a soft margin is allowed). `prior` adds, for every player, a virtual game
    against a player of strength 1 with a score of 1/2 each way; it keeps every strength finite
    when one response beats all others (perfect separation).
    """
    import numpy as np

    wins = np.full(n, float(prior))
    games = np.zeros((n, n))
    for i, j, s in outcomes:
        wins[i] += s
        wins[j] += 1.0 - s
        games[i, j] += 1.0
        games[j, i] += 1.0
    p = np.ones(n)
    for _ in range(max_iter):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1) + 2.0 * prior / (p + 1.0)
        new = wins / denom
        new = new / np.exp(np.mean(np.log(new)))
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    return [float(x) for x in p]


def strength_rewards(strengths: Sequence[float]) -> list[float]:
    """Each response's expected win probability against the others: mean_j p_i / (p_i + p_j), in [0, 1]."""
    n = len(strengths)
    if n == 1:
        return [0.5]
    return [
        sum(strengths[i] / (strengths[i] + strengths[j]) for j in range(n) if j != i) / (n - 1) for i in range(n)
    ]
