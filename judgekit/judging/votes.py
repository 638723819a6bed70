"""One verdict from several: the votes of repeated samples or of a panel's judges (pure functions).

A vote is a scored verdict (pointwise: MET True / UNMET False; pairwise: "A" | "B" | "tie") with a
weight; an unscored verdict is no vote (it abstains). The rules, as in AutoRubric's ensembles:

- `majority`: the value with the most votes; `weighted`: the value with the most weight. No single
  leader: unscored with the reason (pointwise), a tie (pairwise).
- `unanimous`: pointwise MET only when every vote is MET; pairwise a preference only when every
  vote names it, else a tie.
- `any`: pointwise MET when any vote is MET; pairwise "A" when some vote says A and none says B
  (likewise "B"), else a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Aggregate = Literal["majority", "weighted", "unanimous", "any"]
AGGREGATES: tuple[Aggregate, ...] = ("majority", "weighted", "unanimous", "any")
Value = bool | str


@dataclass(frozen=True)
class Vote:
    value: Value
    weight: float = 1.0


def label(value: Value) -> str:
    return ("MET" if value else "UNMET") if isinstance(value, bool) else value


def tally(votes: Sequence[Vote], *, weighted: bool) -> dict[Value, float]:
    counts: dict[Value, float] = {}
    for vote in votes:
        counts[vote.value] = counts.get(vote.value, 0.0) + (vote.weight if weighted else 1.0)
    return counts


def shares(votes: Sequence[Vote]) -> dict[str, float]:
    """Each value's share of the votes, unweighted ("true"/"false" pointwise, "A"/"B"/"tie"
    pairwise): the soft value of repeated samples, in the keys of a log-probability distribution."""
    counts = tally(votes, weighted=False)
    return {(str(v).lower() if isinstance(v, bool) else v): n / len(votes) for v, n in counts.items()}


def decide(votes: Sequence[Vote], rule: Aggregate, pairwise: bool) -> tuple[Value | None, str | None]:
    """(value, None), or (None, why) when the votes give no verdict."""
    if not votes:
        return None, "no vote"
    values = {v.value for v in votes}
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
