"""The statistics of `judgekit eval` on labelled pairs (SPEC section 8), per subset and overall:

- n: pairs; accuracy: the judge's winner equals the human label (a judge tie or an unscored pair
  is wrong; a human tie is matched only by a judge tie), with `accuracy_ci`, the 95% seeded
  bootstrap interval over pairs;
- accuracy_no_ties: the same over the pairs where both the judge and the label name a winner;
- kappa: Cohen's kappa between the judge's winner and the label over the categories A, B, tie,
  over the pairs the judge decided (unscored pairs are counted by unscored_rate instead);
- tie_rate: pairs the judge called a tie; unscored_rate: pairs left without a winner;
- position_consistency: share of model-judged criterion verdicts, asked in both orders, whose two
  orders agree (1 - position inconsistency); pairs_inconsistent: pairs with at least one that flips;
- unscored_criteria: criterion verdicts missing after the re-asks (answers that would not parse);
- confusion: counts by human label (rows) and judge winner (columns, "unscored" for none).

Two runs on the same pairs (two profiles, rubrics or judges) are compared by `difference`: the
accuracy of one minus the other, with a paired bootstrap interval (the same resampled pairs for both).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from judgekit.errors import InputError
from judgekit.evaluation.evaluate import EvalRun
from judgekit.evaluation.report import frame, usage_summary
from judgekit.evaluation.stats import codes, estimate, kappa_of, mean_of, rounded, with_ci

CATEGORIES = ("A", "B", "tie")


def pair_stats(records: list[dict[str, Any]], principles: frozenset[str], *, seed: int) -> dict[str, Any]:
    """SPEC section 8's STATS of a set of pair records."""
    n = len(records)
    labels = [r["label"] for r in records]
    winners = [r["winner"] for r in records]
    correct = [float(w == lab) for w, lab in zip(winners, labels)]
    accuracy, accuracy_ci = with_ci(mean_of(correct), n, seed=seed)
    decided = [c for c, w, lab in zip(correct, winners, labels) if w in ("A", "B") and lab in ("A", "B")]
    scored = [k for k, w in enumerate(winners) if w is not None]
    kappa = kappa_of(codes([labels[k] for k in scored], CATEGORIES), codes([winners[k] for k in scored], CATEGORIES),
                     len(CATEGORIES))
    both_orders = sum(1 for r in records for cid, p in r["preferences"].items() if cid in principles and p is not None)
    flipped = sum(len(r["inconsistent"]) for r in records)
    criteria = sum(len(r["preferences"]) for r in records)
    return {
        "n": n,
        "accuracy": accuracy,
        "accuracy_ci": accuracy_ci,
        "accuracy_no_ties": estimate(mean_of(decided), len(decided)),
        "kappa": estimate(kappa, len(scored)),
        "tie_rate": _share(sum(w == "tie" for w in winners), n),
        "position_consistency": _share(both_orders - flipped, both_orders),
        "unscored_rate": _share(n - len(scored), n),
        "pairs_inconsistent": _share(sum(bool(r["inconsistent"]) for r in records), n),
        "unscored_criteria": _share(sum(p is None for r in records for p in r["preferences"].values()), criteria),
        "confusion": _confusion(labels, winners),
    }


def _share(count: int, total: int) -> float | None:
    return rounded(count / total) if total else None


def _confusion(labels: list[str], winners: list[str | None]) -> dict[str, dict[str, int]]:
    counts = Counter(zip(labels, winners))
    return {lab: {w or "unscored": counts[(lab, w)] for w in (*CATEGORIES, None)} for lab in CATEGORIES}


def build_report(run: EvalRun, *, meta: dict[str, Any], seed: int) -> dict[str, Any]:
    """The report of one run: the settings, STATS overall and per subset, usage, every pair's record."""
    subsets = {name: {**pair_stats([r for r in run.records if r["subset"] == name], run.principles, seed=seed),
                      **usage_summary([usage])}
               for name, usage in run.usage.items()}
    report = frame(meta, {"overall": pair_stats(run.records, run.principles, seed=seed), "subsets": subsets},
                   run.usage.values())
    if run.probe is not None:
        report["probe"] = run.probe
    report["pairs"] = run.records
    return report


def same_pairs(base: list[dict[str, Any]], ids: list[str], *, file: str | None = None) -> None:
    """Refuse to compare runs on different pairs (checked before any judging, when the base is a file)."""
    base_ids = {r["id"] for r in base}
    missing = [i for i in ids if i not in base_ids] or [i for i in base_ids if i not in set(ids)]
    if missing:
        raise InputError(f"the runs compared were not run on the same pairs (e.g. {missing[0]} is in one of them only); "
                         "compare runs with the same data, --limit and --seed", file=file, field="pairs")


def difference(base: list[dict[str, Any]], other: list[dict[str, Any]], *, seed: int) -> dict[str, Any]:
    """Accuracy of `other` minus `base` on the same pairs (matched by id), with a paired bootstrap interval."""
    same_pairs(base, [r["id"] for r in other])
    base_correct = {r["id"]: r["winner"] == r["label"] for r in base}
    gain = [float(r["winner"] == r["label"]) - float(base_correct[r["id"]]) for r in other]
    value, ci = with_ci(mean_of(gain), len(gain), seed=seed)
    return {"n": len(gain), "accuracy": value, "accuracy_ci": ci}
