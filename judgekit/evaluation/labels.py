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
from numpy.typing import NDArray

from judgekit.data.datasets import LabelledRow, Stream
from judgekit.data.outfile import RowSink
from judgekit.data.transcript import as_text
from judgekit.evaluation.report import frame
from judgekit.evaluation.stats import binary_statistics, macro_f1_of, rounded, with_ci
from judgekit.evaluation.stream import judge_stream
from judgekit.judge import Judge
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.models import Rubric

Verdicts = NDArray[np.int8]  # (criteria, rows): 1 (MET) | 0, -1 where there is none


@dataclass
class LabelsRun:
    """Per criterion of the rubric and row, the human's label and the judge's verdict (the rows' records
    are in the companion file, if any)."""

    criteria: list[str]
    labels: Verdicts
    scores: Verdicts
    usage: ScopeUsage = field(default_factory=ScopeUsage)

    def keep(self, index: int, record: dict[str, Any]) -> None:
        for k, cid in enumerate(self.criteria):
            label, score = record["labels"].get(cid), record["scores"].get(cid)
            self.labels[k, index] = -1 if label is None else int(label)
            self.scores[k, index] = -1 if score is None else int(score > 0)  # MET: any verdict above 0


async def evaluate_labels(judge: Judge, rubric: Rubric, rows: Stream[LabelledRow], sink: RowSink, *,
                          on_done: Callable[[], None] | None = None) -> LabelsRun:
    """Score every row's response; one record per row (the human labels and the judge's scores) to `sink`."""
    criteria, n = [c.cid for c in rubric.criteria], len(rows.scan())
    run = LabelsRun(criteria, np.full((len(criteria), n), -1, np.int8), np.full((len(criteria), n), -1, np.int8))
    context = judge.context().counting_into(run.usage)

    async def one(row: LabelledRow) -> dict[str, Any]:
        reference = None if row.reference is None else as_text(row.reference)
        o = await score_item(context, rubric, PointwiseItem(as_text(row.prompt), as_text(row.response), reference))
        record: dict[str, Any] = {"id": row.id, "labels": row.labels, "scores": o.scores}
        if o.unscored:
            record["unscored"] = o.unscored
        return record

    await judge_stream(rows, one, run.keep, sink, workers=judge.config.concurrency, on_done=on_done)
    return run


def criterion_stats(labels: Verdicts, scores: Verdicts, *, seed: int) -> dict[str, Any]:
    """One criterion's agreement, from its row of labels and of verdicts."""
    labelled = labels >= 0
    both = labelled & (scores >= 0)
    truth, pred = labels[both].astype(bool), scores[both].astype(bool)
    out: dict[str, Any] = {"n": int(both.sum())}
    for name, statistic in binary_statistics(truth.tolist(), pred.tolist()).items():
        out[name], out[f"{name}_ci"] = with_ci(statistic, out["n"], seed=seed)
    out["unscored_rate"] = rounded((labelled.sum() - both.sum()) / labelled.sum()) if labelled.any() else None
    out["confusion"] = {"tp": int((truth & pred).sum()), "fp": int((pred & ~truth).sum()),
                        "fn": int((truth & ~pred).sum()), "tn": int((~truth & ~pred).sum())}
    return out


def _matrix(run: LabelsRun, rows: list[int], source: Verdicts) -> NDArray[np.float64]:
    """(criteria, rows) of 1/0, NaN where the row has no label or no verdict for the criterion."""
    picked = source[rows].astype(float)
    picked[(run.labels[rows] < 0) | (run.scores[rows] < 0)] = np.nan
    return picked


def labels_report(run: LabelsRun, *, meta: dict[str, object], seed: int) -> dict[str, Any]:
    """Per-criterion agreement, macro-F1 over the labelled criteria, and usage."""
    at = {cid: k for k, cid in enumerate(run.criteria)}
    criteria = sorted(cid for cid in run.criteria if (run.labels[at[cid]] >= 0).any())
    per_criterion = {cid: criterion_stats(run.labels[at[cid]], run.scores[at[cid]], seed=seed) for cid in criteria}
    judged = [at[cid] for cid in criteria if per_criterion[cid]["n"]]  # a criterion never scored has no F1
    n = run.labels.shape[1]
    macro, macro_ci = with_ci(macro_f1_of(_matrix(run, judged, run.labels), _matrix(run, judged, run.scores)),
                              n, seed=seed) if judged else (None, None)
    labelled = int((run.labels >= 0).sum())
    unscored = int(((run.labels >= 0) & (run.scores < 0)).sum())
    overall = {"n": n, "criteria": len(judged), "macro_f1": macro, "macro_f1_ci": macro_ci,
               "unscored_rate": rounded(unscored / labelled) if labelled else None}
    return frame(meta, {"overall": overall, "criteria": per_criterion}, [run.usage])
