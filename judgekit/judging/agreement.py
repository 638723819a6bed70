"""How far a judge agrees with itself (repeated samples) and a panel's judges with each other.

Filled while judging, one unit per criterion per question asked (a response, or one order of a
pair); read once at the end of a run for the summary and the reports.

- Self-agreement of a criterion: over its units, the mean share of the scored samples that gave
  the unit's most common verdict (1.0: every sample agreed every time).
- Inter-judge agreement: Krippendorff's alpha (nominal; ordinal for ratings on a scale) over the units, judges as coders, a
  judge that abstained as a missing value; None where it is undefined (fewer than two pairable
  values, or a single value throughout), or without the krippendorff package (`judgekit[agreement]`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from judgekit.judging.votes import is_rating
from judgekit.protocol.wire import Value

log = logging.getLogger("judgekit.judging.agreement")


@dataclass
class AgreementLog:
    samples: dict[str, list[list[Value]]] = field(default_factory=dict)
    panel: dict[str, list[list[Value | None]]] = field(default_factory=dict)

    def add_samples(self, cid: str, values: Sequence[Value]) -> None:
        if values:
            self.samples.setdefault(cid, []).append(list(values))

    def add_panel(self, cid: str, values: Sequence[Value | None]) -> None:
        self.panel.setdefault(cid, []).append(list(values))

    def size(self) -> tuple[dict[str, int], dict[str, int]]:
        """How many units each criterion has so far (samples, panel): a mark for `since`."""
        return {cid: len(u) for cid, u in self.samples.items()}, {cid: len(u) for cid, u in self.panel.items()}

    def since(self, size: tuple[dict[str, int], dict[str, int]]) -> AgreementLog:
        """The units added after `size` was taken, e.g. one shard's of a Ray actor's judge."""
        samples, panel = size
        return AgreementLog({cid: u[samples.get(cid, 0):] for cid, u in self.samples.items() if len(u) > samples.get(cid, 0)},
                            {cid: u[panel.get(cid, 0):] for cid, u in self.panel.items() if len(u) > panel.get(cid, 0)})

    def merge(self, other: AgreementLog) -> None:
        """Add `other`'s units to this log's (the shards of one run)."""
        for cid, sampled in other.samples.items():
            self.samples.setdefault(cid, []).extend(sampled)
        for cid, voted in other.panel.items():
            self.panel.setdefault(cid, []).extend(voted)

    def self_agreement(self) -> dict[str, float]:
        return {cid: sum(modal_share(u) for u in units) / len(units) for cid, units in self.samples.items()}

    def alpha(self) -> dict[str, float | None]:
        if importlib.util.find_spec("krippendorff") is None:
            log.warning("inter-judge alpha needs the krippendorff package: pip install 'judgekit[agreement]'")
            return dict.fromkeys(self.panel)
        return {cid: krippendorff_alpha(units) for cid, units in self.panel.items()}

    def as_dict(self) -> dict[str, dict[str, float | None]]:
        """What a summary or report shows; empty parts left out."""
        out: dict[str, dict[str, float | None]] = {}
        if self.samples:
            out["self_agreement"] = dict(self.self_agreement())
        if self.panel:
            out["krippendorff_alpha"] = self.alpha()
        return out


def modal_share(values: Sequence[Value]) -> float:
    return max(values.count(v) for v in set(values)) / len(values)


def krippendorff_alpha(units: Sequence[Sequence[Value | None]]) -> float | None:
    """Nominal alpha of units x coders (None: missing); None where alpha is undefined."""
    import krippendorff  # an optional dependency (the `agreement` extra), needed only here
    import numpy as np

    given = [v for unit in units for v in unit if v is not None]
    # Ratings are ordinal (a 4 against a 5 is a smaller disagreement than a 1 against a 5).
    ordinal = bool(given) and all(is_rating(v) for v in given)
    codes: dict[Value, int] = {v: int(v) for v in given} if ordinal else {}
    data = np.array([[np.nan if v is None else codes.setdefault(v, len(codes)) for v in unit] for unit in units],
                    dtype=float).T
    pairable = int(((~np.isnan(data)).sum(axis=0) >= 2).sum()) if data.size else 0
    if len(codes) < 2 or pairable == 0:
        return None
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal" if ordinal else "nominal",
                                     value_domain=sorted(set(codes.values()))))
    return None if np.isnan(value) else value
