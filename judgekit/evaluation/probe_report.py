"""probe.json: a probe run's counts as rates with seeded bootstrap intervals (judgekit.evaluation.stats),
and the paired comparison of several configurations on the same attacks."""

from __future__ import annotations

from typing import Any

import numpy as np

from judgekit.evaluation.probe import NEGATIVE, POSITIVE, ProbeRun, Tally
from judgekit.evaluation.stats import bootstrap_ci, mean_of, rounded


def _share(count: int, n: int) -> float | None:
    return rounded(count / n) if n else None


def _ci(count: int, n: int, seed: int) -> list[float] | None:
    """The bootstrap interval of a share from its counts (the units are exchangeable: their order does not matter)."""
    return bootstrap_ci(mean_of(np.repeat([True, False], [count, n - count])), n, seed=seed) if n else None


def _pairwise(t: Tally, seed: int) -> dict[str, Any] | None:
    judged, wins, ties, unscored = t.pairs
    if not judged and not unscored:
        return None
    return {"n": judged, "attack_win_rate": _share(wins, judged), "attack_win_rate_ci": _ci(wins, judged, seed),
            "tie_rate": _share(ties, judged), "unscored": unscored}


def family_summary(t: Tally, real_mean: float | None, seed: int) -> dict[str, Any]:
    mean = t.mean_reward
    summary: dict[str, Any] = {
        "n": t.scored, "attacks": t.attacks, "unscored": t.attacks - t.scored,
        "false_positive_rate": rounded(t.rate) if t.rate is not None else None, "fpr_ci": _ci(t.positive, t.scored, seed),
        "mean_reward": rounded(mean) if mean is not None else None,
        "reward_delta": rounded(mean - real_mean) if mean is not None and real_mean is not None else None,
        "per_criterion": {cid: {"n": n, "false_positive_rate": _share(met, n)} for cid, (n, met) in t.criteria.items()},
        "variants": {name: {"n": n, "false_positive_rate": _share(pos, n), "example": text}
                     for name, (n, pos, text) in t.variants.items()},
    }
    if t.reasons:
        summary["unscored_reasons"] = dict(t.reasons.most_common())
    if (pairs := _pairwise(t, seed)) is not None:
        summary["pairwise"] = pairs
    return summary


def probe_summary(run: ProbeRun, seed: int) -> dict[str, Any]:
    """The `attacks` and `real` parts of probe.json."""
    real_mean = run.real.mean_reward
    report: dict[str, Any] = {
        "rows": run.rows,
        "attacks": {name: family_summary(t, real_mean, seed) for name, t in run.families.items()},
        "real": {"n": run.real.scored, "mean_reward": rounded(real_mean) if real_mean is not None else None,
                 "unscored": run.real.attacks - run.real.scored},
    }
    if run.stopped:
        report["stopped"] = run.stopped
    return report


def overall_rate(run: ProbeRun) -> float | None:
    """The false-positive rate over every scored attack of every family."""
    scored = sum(t.scored for t in run.families.values())
    return rounded(sum(t.positive for t in run.families.values()) / scored) if scored else None


def max_rate(summary: dict[str, Any]) -> tuple[str, float] | None:
    """The family with the highest false-positive rate (pointwise, or an attack's pairwise win rate)."""
    rates = [(name, a["false_positive_rate"]) for name, a in summary["attacks"].items() if a["false_positive_rate"] is not None]
    rates += [(f"{name} (pairwise)", a["pairwise"]["attack_win_rate"]) for name, a in summary["attacks"].items()
              if a.get("pairwise") and a["pairwise"]["attack_win_rate"] is not None]
    return max(rates, key=lambda r: r[1]) if rates else None


def paired_difference(base: bytearray, other: bytearray, seed: int) -> dict[str, Any]:
    """The difference of false-positive rates (other - base) over the attacks both configurations scored, with a
    paired-bootstrap interval (an attack's two outcomes stay together in every resample)."""
    n = min(len(base), len(other))  # equal unless a run stopped early
    a, b = np.frombuffer(bytes(base[:n]), dtype=np.uint8), np.frombuffer(bytes(other[:n]), dtype=np.uint8)
    both = (a != 2) & (b != 2)
    diff = (b[both] == POSITIVE).astype(np.int8) - (a[both] == POSITIVE).astype(np.int8)
    assert NEGATIVE == 0
    m = int(both.sum())
    return {"n": m, "difference": rounded(float(diff.mean())) if m else None,
            "difference_ci": bootstrap_ci(mean_of(diff), m, seed=seed) if m else None}


def compare_configurations(names: list[str], runs: list[ProbeRun], seed: int) -> dict[str, Any]:
    """Each configuration's rate minus the first's, family by family, paired over the same attacks."""
    base = runs[0]
    out: dict[str, Any] = {"baseline": names[0], "configurations": {}}
    for name, run in zip(names[1:], runs[1:]):
        out["configurations"][name] = {
            family: paired_difference(base.families[family].outcomes or bytearray(), t.outcomes or bytearray(), seed)
            for family, t in run.families.items()}
    return out
