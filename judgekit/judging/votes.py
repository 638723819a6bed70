"""One verdict from several: the votes of repeated samples or of a panel's judges (pure functions).

A vote is a scored verdict (pointwise: MET True / UNMET False; pairwise: "A" | "B" | "tie") with a
weight; an unscored verdict is no vote (it abstains). The rules, as in AutoRubric's ensembles:

- `majority`: the value with the most votes; `weighted`: the value with the most weight. No single
  leader: unscored with the reason (pointwise), a tie (pairwise).
- `unanimous`: pointwise MET only when every vote is MET; pairwise a preference only when every
  vote names it, else a tie.
- `any`: pointwise MET when any vote is MET; pairwise "A" when some vote says A and none says B
  (likewise "B"), else a tie.

Ratings (a criterion with a scale) are ordinal: `majority` and `weighted` take the (weighted)
median, unscored when the middle falls between two ratings; `unanimous` the lowest rating and `any`
the highest (as MET only when all say MET, or when any does). A criterion that allows
"not_applicable" is first decided on whether it applies, by the (weighted) majority of the votes;
an even split is unscored (pairwise: a tie); if it applies, the other votes decide as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from judgekit.protocol.wire import NOT_APPLICABLE, Value

Aggregate = Literal["majority", "weighted", "unanimous", "any"]
AGGREGATES: tuple[Aggregate, ...] = ("majority", "weighted", "unanimous", "any")


@dataclass(frozen=True)
class Vote:
    value: Value
    weight: float = 1.0


def label(value: Value) -> str:
    return ("MET" if value else "UNMET") if isinstance(value, bool) else str(value)


def tally(votes: Sequence[Vote], *, weighted: bool) -> dict[Value, float]:
    counts: dict[Value, float] = {}
    for vote in votes:
        counts[vote.value] = counts.get(vote.value, 0.0) + (vote.weight if weighted else 1.0)
    return counts


def shares(votes: Sequence[Vote]) -> dict[str, float]:
    """Each value's share of the votes, unweighted ("true"/"false" pointwise, "A"/"B"/"tie"
    pairwise): the soft value of repeated samples, in the keys of a log-probability distribution."""
    counts = tally(votes, weighted=False)
    return {(str(v).lower() if isinstance(v, bool) else str(v)): n / len(votes) for v, n in counts.items()}


def decide(votes: Sequence[Vote], rule: Aggregate, pairwise: bool) -> tuple[Value | None, str | None]:
    """(value, None), or (None, why) when the votes give no verdict."""
    if not votes:
        return None, "no vote"
    if any(v.value == NOT_APPLICABLE for v in votes):
        applies, why = _applies(votes, weighted=rule == "weighted")
        if applies is None:
            return ("tie", None) if pairwise else (None, why)
        if not applies:
            return NOT_APPLICABLE, None
        votes = [v for v in votes if v.value != NOT_APPLICABLE]
    if all(is_rating(v.value) for v in votes):
        return _decide_ratings(votes, rule)
    values = {v.value for v in votes}
    if not pairwise and rule in ("unanimous", "any") and any(isinstance(v, str) for v in values):
        # options of a criterion with choices: "any" has no meaning for labels; the majority decides
        if rule == "unanimous" and len(values) > 1:
            return None, f"no unanimous choice ({', '.join(sorted(map(str, values)))})"
        rule = "majority"
    if rule == "unanimous":
        if pairwise:
            return (values.pop() if len(values) == 1 else "tie"), None
        return all(v.value is True for v in votes), None
    if rule == "any":
        if pairwise:
            return ("A" if "A" in values and "B" not in values else "B" if "B" in values and "A" not in values else "tie"), None
        return any(v.value is True for v in votes), None
    counts = tally(votes, weighted=rule == "weighted")
    best = max(counts.values())
    leaders = [v for v, n in counts.items() if n == best]
    if len(leaders) == 1:
        return leaders[0], None
    if pairwise:
        return "tie", None
    spread = ", ".join(f"{label(v)} {n:g}" for v, n in sorted(counts.items(), key=lambda kv: label(kv[0])))
    return None, f"no {'weighted ' if rule == 'weighted' else ''}majority ({spread})"


def is_rating(value: Value | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _applies(votes: Sequence[Vote], *, weighted: bool) -> tuple[bool | None, str | None]:
    """Whether the criterion applies, by the votes' majority; None (with why) on an even split."""
    not_applicable = sum(v.weight if weighted else 1.0 for v in votes if v.value == NOT_APPLICABLE)
    applicable = sum(v.weight if weighted else 1.0 for v in votes if v.value != NOT_APPLICABLE)
    if not_applicable == applicable:
        return None, f"no majority on whether it applies (not_applicable {not_applicable:g}, applicable {applicable:g})"
    return applicable > not_applicable, None


def _decide_ratings(votes: Sequence[Vote], rule: Aggregate) -> tuple[Value | None, str | None]:
    """The lowest (unanimous), highest (any) or (weighted) median rating; no single median: unscored."""
    weighted = rule == "weighted"
    ordered = sorted(votes, key=lambda v: int(v.value))
    if rule in ("unanimous", "any"):
        return int(ordered[0 if rule == "unanimous" else -1].value), None
    total = sum(v.weight if weighted else 1.0 for v in ordered)
    running, low, high = 0.0, None, None
    for vote in ordered:
        running += vote.weight if weighted else 1.0
        if low is None and running >= total / 2:
            low = int(vote.value)
        if high is None and running > total / 2:
            high = int(vote.value)
    if low != high:
        counts = sorted(tally(votes, weighted=weighted).items(), key=lambda kv: int(kv[0]))
        return None, f"no {'weighted ' if weighted else ''}median (ratings {', '.join(f'{r} {n:g}' for r, n in counts)})"
    return low, None
