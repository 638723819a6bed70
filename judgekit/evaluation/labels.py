"""`judgekit eval --format labels`: the judge's verdict per criterion against a human's.

Each row's response is scored with the rubric (as `score` does); every criterion a row labels is one
(human, judge) verdict pair, MET the positive class. Per criterion: precision, recall, F1 and Cohen's
kappa, each with a 95% bootstrap interval over rows; overall: macro-F1 (the mean of the criteria's F1,
HealthBench's meta-evaluation metric) with its interval, rows resampled with all their criteria. A
verdict the judge left unscored is not counted as agreement or disagreement: it is in `unscored_rate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from judgekit.authoring.rubric_rm import score_item
from judgekit.data.datasets import LabelledRow
from judgekit.evaluation.report import frame
from judgekit.evaluation.stats import binary_statistics, macro_f1_of, rounded, with_ci
from judgekit.judge import Judge
from judgekit.judging.pointwise import PointwiseItem
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.models import Rubric


@dataclass
class LabelsRun:
    records: list[dict[str, Any]] = field(default_factory=list)
    usage: ScopeUsage = field(default_factory=ScopeUsage)


async def evaluate_labels(judge: Judge, rubric: Rubric, rows: list[LabelledRow], *,
                          on_done: Callable[[], None] | None = None) -> LabelsRun:
    """Score every row's response; one record per row with the human labels and the judge's scores."""
    run = LabelsRun()
    context = judge.context().counting_into(run.usage)

    async def one(row: LabelledRow) -> dict[str, Any]:
        o = await score_item(context, rubric, PointwiseItem(row.prompt, row.response, row.reference))
        if on_done:
            on_done()
        record: dict[str, Any] = {"id": row.id, "labels": row.labels, "scores": o.scores}
        if o.unscored:
            record["unscored"] = o.unscored
        return record

    run.records = await gather_all(*(one(r) for r in rows))
    return run


def criterion_stats(records: list[dict[str, Any]], cid: str, *, seed: int) -> dict[str, Any]:
    labelled = [r for r in records if cid in r["labels"]]
    both = [(r["labels"][cid], r["scores"][cid]) for r in labelled if r["scores"].get(cid) is not None]
    truth, pred = [t for t, _ in both], [p for _, p in both]
    out: dict[str, Any] = {"n": len(both)}
    for name, statistic in binary_statistics(truth, pred).items():
        out[name], out[f"{name}_ci"] = with_ci(statistic, len(both), seed=seed)
    out["unscored_rate"] = rounded((len(labelled) - len(both)) / len(labelled)) if labelled else None
    out["confusion"] = {"tp": sum(t and p for t, p in both), "fp": sum(p and not t for t, p in both),
                        "fn": sum(t and not p for t, p in both), "tn": sum(not t and not p for t, p in both)}
    return out


def _matrix(records: list[dict[str, Any]], criteria: list[str], source: str) -> np.ndarray:
    """(criteria, rows) of 1/0, NaN where the row has no label or no verdict for the criterion."""
    def value(r: dict[str, Any], cid: str) -> float:
        if cid not in r["labels"] or r["scores"].get(cid) is None:
            return np.nan
        return float(r[source][cid])

    return np.array([[value(r, cid) for r in records] for cid in criteria], dtype=float).reshape(len(criteria), len(records))


def labels_report(run: LabelsRun, *, meta: dict[str, Any], seed: int) -> dict[str, Any]:
    """Per-criterion agreement, macro-F1 over the labelled criteria, usage, and every row's record."""
    criteria = sorted({cid for r in run.records for cid in r["labels"]})
    per_criterion = {cid: criterion_stats(run.records, cid, seed=seed) for cid in criteria}
    judged = [cid for cid in criteria if per_criterion[cid]["n"]]  # a criterion never scored has no F1
    macro, macro_ci = with_ci(macro_f1_of(_matrix(run.records, judged, "labels"), _matrix(run.records, judged, "scores")),
                              len(run.records), seed=seed) if judged else (None, None)
    labelled = sum(len(r["labels"]) for r in run.records)
    unscored = sum(1 for r in run.records for cid in r["labels"] if r["scores"].get(cid) is None)
    overall = {"n": len(run.records), "criteria": len(judged), "macro_f1": macro, "macro_f1_ci": macro_ci,
               "unscored_rate": rounded(unscored / labelled) if labelled else None}
    return {**frame(meta, {"overall": overall, "criteria": per_criterion}, [run.usage]), "rows": run.records}
