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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judgekit.data.reader import json_records, load_json
from judgekit.data.rows import id_hash
from judgekit.errors import InputError
from judgekit.evaluation.evaluate import CATEGORIES, EvalRun, PairOutcomes, category
from judgekit.evaluation.report import companion_file, frame, usage_summary
from judgekit.evaluation.stats import estimate, kappa_of, mean_of, rounded, with_ci

Correct = NDArray[np.bool_]


def pair_stats(o: PairOutcomes, *, seed: int) -> dict[str, Any]:
    """SPEC section 8's STATS of a set of pair outcomes."""
    n = len(o)
    correct = o.correct
    accuracy, accuracy_ci = with_ci(mean_of(correct), n, seed=seed)
    decided = correct[(o.winner >= 0) & (o.winner < 2) & (o.label < 2)]  # both name a winner (A or B)
    scored = o.winner >= 0
    kappa = kappa_of(o.label[scored], o.winner[scored], len(CATEGORIES))
    both_orders, flipped = int(o.both_orders.sum()), int(o.flipped.sum())
    return {
        "n": n,
        "accuracy": accuracy,
        "accuracy_ci": accuracy_ci,
        "accuracy_no_ties": estimate(mean_of(decided), len(decided)),
        "kappa": estimate(kappa, int(scored.sum())),
        "tie_rate": _share(int((o.winner == category("tie")).sum()), n),
        "position_consistency": _share(both_orders - flipped, both_orders),
        "unscored_rate": _share(n - int(scored.sum()), n),
        "pairs_inconsistent": _share(int((o.flipped > 0).sum()), n),
        "unscored_criteria": _share(int(o.unscored.sum()), int(o.criteria.sum())),
        "confusion": _confusion(o),
    }


def _share(count: int, total: int) -> float | None:
    return rounded(count / total) if total else None


def _confusion(o: PairOutcomes) -> dict[str, dict[str, int]]:
    counts = np.zeros((len(CATEGORIES), len(CATEGORIES) + 1), dtype=np.int64)  # the last column: unscored (-1)
    np.add.at(counts, (o.label.astype(np.intp), o.winner.astype(np.intp)), 1)
    return {lab: {w: int(counts[i, j if w != "unscored" else -1]) for j, w in enumerate((*CATEGORIES, "unscored"))}
            for i, lab in enumerate(CATEGORIES)}


def build_report(run: EvalRun, *, meta: dict[str, object], seed: int) -> dict[str, Any]:
    """The report of one run: the settings, STATS overall and per subset, usage (the pairs' records are in
    the companion file, if any)."""
    o = run.outcomes
    subsets = {name: {**pair_stats(o.take(o.subset == k), seed=seed), **usage_summary([run.usage[name]])}
               for k, name in enumerate(o.names)}
    report = frame(meta, {"overall": pair_stats(o, seed=seed), "subsets": subsets}, run.usage.values())
    if run.probe is not None:
        report["probe"] = run.probe
    return report


def baseline_outcomes(path: Path) -> tuple[NDArray[np.uint64], Correct]:
    """The pairs of an earlier single-run eval report (their id hashes) and which the judge got right: from
    its companion file (`pairs_file`, beside it) or, in a report that lists them, its `pairs`."""
    report = load_json(path)
    listed = report.get("pairs") if isinstance(report, dict) else None
    named = companion_file(path, report.get("pairs_file")) if isinstance(report, dict) else None
    records: Iterator[tuple[int, Any]]
    if isinstance(listed, list):
        records = enumerate(listed)
    elif named is not None:
        records = ((rec.line, rec.obj) for rec in json_records(named))
    else:
        raise InputError("not a `judgekit eval` report of one run on pairs (it has no 'pairs_file' or 'pairs' list)",
                         file=str(path), field="pairs")
    ids, correct = [], []
    for k, record in records:
        if not isinstance(record, dict) or not {"id", "label", "winner"} <= record.keys():
            raise InputError(f"pair {k} has no id, label or winner", file=str(path), field="pairs")
        ids.append(id_hash(record["id"]))
        correct.append(record["winner"] is not None and record["winner"] == record["label"])
    return np.array(ids, dtype=np.uint64), np.array(correct, dtype=bool)


def aligned(base_ids: NDArray[np.uint64], base: Correct, ids: NDArray[np.uint64], *, file: str | None = None) -> Correct:
    """`base` in the order of `ids`, matched by id; refuses runs on different pairs (before any judging)."""
    if len(base_ids) == len(ids) and np.array_equal(base_ids, ids):
        return base
    order, other = np.argsort(base_ids, kind="stable"), np.argsort(ids, kind="stable")
    if len(base_ids) != len(ids) or not np.array_equal(base_ids[order], ids[other]):
        raise InputError("the runs compared were not run on the same pairs (a pair is in one of them only); "
                         "compare runs with the same data, --limit and --seed", file=file, field="pairs")
    out = np.empty_like(base)
    out[other] = base[order]
    return out


def difference(base: Correct, other: Correct, *, seed: int) -> dict[str, Any]:
    """Accuracy of `other` minus `base` on the same pairs (in the same order), with a paired bootstrap interval."""
    gain = other.astype(np.int8) - base.astype(np.int8)
    value, ci = with_ci(mean_of(gain), len(gain), seed=seed)
    return {"n": len(gain), "accuracy": value, "accuracy_ci": ci}
