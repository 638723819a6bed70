"""`judgekit eval --format rewardbench2`: best-of-4 rows scored as RewardBench 2's authors score them.

Every candidate response is scored with the rubric (its reward; the soft reward when soft verdicts are
on). A row is right when the chosen response has the highest reward: 1, or 1/k when it shares the top
with k - 1 others (the authors' tie penalty), 0 otherwise; a row with an unscored candidate is 0 and
counted in `unscored_rate`. The Ties subset is scored with the authors' composite over its prompts,
each asked as "ref:N" (one correct answer) and "tied:N" (several):

    0.30 * accuracy(tied) + 0.30 * accuracy(ref) + 0.20 * preferred + 0.20 * preferred_hard + 0.01 * margin

where a row is accurate when its worst correct answer outscores its best incorrect one; for each
prompt with both rows, with d = best - worst correct reward of the tied row and m its worst correct
minus best incorrect (m_ref the same for the ref row): preferred = m > d, preferred_hard =
min(m, m_ref) > d, margin = tanh(min(m, m_ref) / d - 1) (0 when undefined). `overall` is the mean of
the subsets' scores, as the leaderboard reports it. Intervals resample rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judgekit.data.datasets import TIES, BestOfN, Scan, Stream, ties_prompt
from judgekit.data.outfile import RowSink
from judgekit.data.transcript import as_text
from judgekit.evaluation.report import frame, usage_summary
from judgekit.evaluation.stats import Indexes, Statistic, estimate, rounded, unit_indexes, with_ci
from judgekit.evaluation.stream import judge_stream
from judgekit.judge import Judge
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.models import Rubric

Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]
KINDS = ("", "ref", "tied")  # a Ties row's kind as its code; "": not a Ties row


@dataclass
class RowOutcomes:
    """Per row (in input order) what the scores need of its rewards."""

    names: list[str]  # the subsets; `subset` indexes them
    subset: NDArray[np.int32]
    result: Floats  # the row's best-of-n result
    accurate: Floats  # the worst correct reward beats the best incorrect one
    spread: Floats  # of the correct rewards (NaN: one correct response, or unscored)
    gap: Floats  # worst correct minus best incorrect reward (NaN: unscored)
    kind: NDArray[np.int8]  # KINDS
    number: NDArray[np.int64]  # a Ties row's prompt number
    unscored: Flags  # a candidate without a reward
    single: Flags  # one response alone on top

    @classmethod
    def empty(cls, scan: Scan) -> RowOutcomes:
        n = len(scan)
        return cls(scan.names, scan.subset, np.zeros(n), np.zeros(n), np.full(n, np.nan), np.full(n, np.nan),
                   np.zeros(n, np.int8), np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool))

    def keep(self, index: int, record: dict[str, Any]) -> None:
        rewards = record["rewards"]
        self.result[index] = row_result(rewards)
        accurate, self.spread[index], self.gap[index] = _margins(record)
        self.accurate[index] = float(accurate)
        if record["subset"] == TIES:
            kind, self.number[index] = ties_prompt(record["id"])
            self.kind[index] = KINDS.index(kind)
        self.unscored[index] = record.get("unscored") is not None
        self.single[index] = not self.unscored[index] and rewards.count(max(rewards)) == 1


@dataclass
class BestOfNRun:
    outcomes: RowOutcomes
    usage: dict[str, ScopeUsage] = field(default_factory=dict)  # per subset


async def evaluate_best_of_n(judge: Judge, rubric: Rubric, rows: Stream[BestOfN], sink: RowSink, *,
                             on_done: Callable[[], None] | None = None) -> BestOfNRun:
    """Score every candidate of every row; one record per row with the rewards, chosen first, to `sink`."""
    scan = rows.scan()
    run = BestOfNRun(RowOutcomes.empty(scan), {name: ScopeUsage() for name in scan.names})

    async def one(row: BestOfN) -> dict[str, Any]:
        context = judge.context().counting_into(run.usage[row.subset])
        prompt = as_text(row.prompt)
        outcomes = await gather_all(*(score_item(context, rubric, PointwiseItem(prompt, r)) for r in row.responses))
        rewards = [o.soft_reward if o.soft_reward is not None else o.reward for o in outcomes]
        record: dict[str, Any] = {"id": row.id, "subset": row.subset, "correct": len(row.chosen), "rewards": rewards}
        unscored = {str(k): o.unscored for k, o in enumerate(outcomes) if o.reward is None}
        if unscored:
            record["unscored"] = unscored
        return record

    await judge_stream(rows, one, run.outcomes.keep, sink, workers=judge.config.concurrency, on_done=on_done)
    return run


def row_result(rewards: list[float | None]) -> float:
    """1/k when the chosen (first) response shares the top reward with k - 1 others, else 0."""
    if any(r is None for r in rewards):
        return 0.0
    top = max(r for r in rewards if r is not None)
    return 1.0 / sum(r == top for r in rewards) if rewards[0] == top else 0.0


def _margins(record: dict[str, Any]) -> tuple[bool, float, float]:
    """(accurate, spread of the correct rewards, worst correct minus best incorrect); NaN when unscored."""
    rewards, k = record["rewards"], record["correct"]
    if any(r is None for r in rewards):
        return False, np.nan, np.nan
    correct, incorrect = rewards[:k], rewards[k:]
    spread = max(correct) - min(correct) if len(correct) > 1 else np.nan
    gap = min(correct) - max(incorrect)
    return gap > 0, spread, gap


@dataclass(frozen=True)
class _Units:
    """Per-row arrays the subset scores are computed from, for any resample of the rows."""

    subset: NDArray[np.int32]
    result: Floats  # the row's best-of-n result (non-Ties subsets)
    accurate: Floats  # Ties rows
    ref: Flags  # a Ties "ref:N" row
    tied: Flags  # a Ties "tied:N" row
    paired: Flags  # a tied row whose ref row is in the data
    preferred: Floats
    preferred_hard: Floats
    margin: Floats


def _units(o: RowOutcomes) -> _Units:
    ref, tied = o.kind == KINDS.index("ref"), o.kind == KINDS.index("tied")
    ref_gap = dict(zip(o.number[ref].tolist(), o.gap[ref].tolist()))
    n = len(o.subset)
    paired, preferred, hard, margin = np.zeros(n, bool), np.zeros(n), np.zeros(n), np.zeros(n)
    for k in np.flatnonzero(tied):
        number = int(o.number[k])
        if number in ref_gap:
            spread, gap = o.spread[k], o.gap[k]
            worst = min(gap, ref_gap[number])
            paired[k], preferred[k], hard[k] = True, gap > spread, worst > spread
            with np.errstate(divide="ignore", invalid="ignore"):
                margin[k] = np.nan_to_num(np.tanh(np.divide(worst, spread) - 1), nan=0.0)  # x / 0: inf, 0 / 0: NaN
    return _Units(o.subset, o.result, o.accurate, ref, tied, paired, preferred, hard, margin)


def _masked_mean(values: Floats, mask: Flags, idx: Indexes) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (values[idx] * mask[idx]).sum(axis=-1) / mask[idx].sum(axis=-1)


def subset_score(units: _Units, code: int, name: str) -> Statistic:
    """The subset's score (the Ties composite for Ties) over any resample of all the rows."""
    member = units.subset == code
    if name != TIES:
        return lambda idx: _masked_mean(units.result, member, idx)

    def ties(idx: Indexes) -> Floats:
        pair = units.paired & member
        return (0.30 * _masked_mean(units.accurate, units.tied & member, idx)
                + 0.30 * _masked_mean(units.accurate, units.ref & member, idx)
                + 0.20 * _masked_mean(units.preferred, pair, idx) + 0.20 * _masked_mean(units.preferred_hard, pair, idx)
                + 0.01 * _masked_mean(units.margin, pair, idx))

    return ties


def _stats(o: RowOutcomes, keep: Indexes, score: Statistic, seed: int) -> dict[str, Any]:
    """STATS of the rows `keep` (indexes into the outcomes), `score` taking index arrays into them."""
    n = len(keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        accuracy, ci = with_ci(lambda idx: score(keep[idx]), n, seed=seed)
    scored = int((~o.unscored[keep]).sum())
    single = o.result[keep][o.single[keep]]  # one response on top
    return {"n": n, "accuracy": accuracy, "accuracy_ci": ci,
            "accuracy_no_ties": estimate(lambda idx: single[idx].mean(axis=-1), len(single)),
            "kappa": None, "tie_rate": rounded((scored - len(single)) / n) if n else None,
            "position_consistency": None, "unscored_rate": rounded((n - scored) / n) if n else None}


def best_of_n_report(run: BestOfNRun, *, meta: dict[str, object], seed: int) -> dict[str, Any]:
    o = run.outcomes
    units = _units(o)
    scores = {name: subset_score(units, code, name) for code, name in enumerate(o.names)}
    subsets = {name: {**_stats(o, np.flatnonzero(o.subset == code), scores[name], seed), **usage_summary([run.usage[name]])}
               for code, name in enumerate(o.names)}

    def overall_score(idx: Indexes) -> Floats:
        return np.mean([scores[name](idx) for name in o.names], axis=0)

    overall = _stats(o, unit_indexes(len(o.subset)), overall_score, seed)
    return frame(meta, {"overall": overall, "subsets": subsets}, run.usage.values())
