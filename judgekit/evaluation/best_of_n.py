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

from judgekit.authoring.rubric_rm import score_item
from judgekit.data.datasets import TIES, BestOfN, ties_prompt
from judgekit.evaluation.report import frame, usage_summary
from judgekit.evaluation.stats import Indexes, Statistic, estimate, rounded, with_ci
from judgekit.judge import Judge
from judgekit.judging.pointwise import PointwiseItem
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.models import Rubric

Floats = NDArray[np.float64]


@dataclass
class BestOfNRun:
    records: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, ScopeUsage] = field(default_factory=dict)  # per subset


async def evaluate_best_of_n(judge: Judge, rubric: Rubric, rows: list[BestOfN], *,
                             on_done: Callable[[], None] | None = None) -> BestOfNRun:
    """Score every candidate of every row; one record per row with the rewards, chosen first."""
    run = BestOfNRun()
    for row in rows:
        run.usage.setdefault(row.subset, ScopeUsage())

    async def one(row: BestOfN) -> dict[str, Any]:
        context = judge.context().counting_into(run.usage[row.subset])
        outcomes = await gather_all(*(score_item(context, rubric, PointwiseItem(row.prompt, r)) for r in row.responses))
        if on_done:
            on_done()
        rewards = [o.soft_reward if o.soft_reward is not None else o.reward for o in outcomes]
        record: dict[str, Any] = {"id": row.id, "subset": row.subset, "correct": len(row.chosen), "rewards": rewards}
        unscored = {str(k): o.unscored for k, o in enumerate(outcomes) if o.reward is None}
        if unscored:
            record["unscored"] = unscored
        return record

    run.records = await gather_all(*(one(r) for r in rows))
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

    subset: list[str]
    result: Floats  # the row's best-of-n result (non-Ties subsets)
    accurate: Floats  # Ties rows
    ref: NDArray[np.bool_]  # a Ties "ref:N" row
    tied: NDArray[np.bool_]  # a Ties "tied:N" row
    paired: NDArray[np.bool_]  # a tied row whose ref row is in the data
    preferred: Floats
    preferred_hard: Floats
    margin: Floats


def _units(records: list[dict[str, Any]]) -> _Units:
    stats = [_margins(r) for r in records]
    kinds = [ties_prompt(r["id"]) if r["subset"] == TIES else ("", -1) for r in records]
    ref_gap = {number: stats[k][2] for k, (kind, number) in enumerate(kinds) if kind == "ref"}
    n = len(records)
    paired, preferred, hard, margin = np.zeros(n, bool), np.zeros(n), np.zeros(n), np.zeros(n)
    for k, (kind, number) in enumerate(kinds):
        if kind == "tied" and number in ref_gap:
            _, spread, gap = stats[k]
            worst = min(gap, ref_gap[number])
            paired[k], preferred[k], hard[k] = True, gap > spread, worst > spread
            with np.errstate(divide="ignore", invalid="ignore"):
                margin[k] = np.nan_to_num(np.tanh(np.divide(worst, spread) - 1), nan=0.0)  # x / 0: inf, 0 / 0: NaN
    return _Units([r["subset"] for r in records], np.array([row_result(r["rewards"]) for r in records]),
                  np.array([float(s[0]) for s in stats]), np.array([kind == "ref" for kind, _ in kinds]),
                  np.array([kind == "tied" for kind, _ in kinds]), paired, preferred, hard, margin)


def _masked_mean(values: Floats, mask: NDArray[np.bool_], idx: Indexes) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (values[idx] * mask[idx]).sum(axis=-1) / mask[idx].sum(axis=-1)


def subset_score(units: _Units, name: str) -> Statistic:
    """The subset's score (the Ties composite for Ties) over any resample of all the rows."""
    member = np.array([s == name for s in units.subset])
    if name != TIES:
        return lambda idx: _masked_mean(units.result, member, idx)

    def ties(idx: Indexes) -> Floats:
        pair = units.paired & member
        return (0.30 * _masked_mean(units.accurate, units.tied & member, idx)
                + 0.30 * _masked_mean(units.accurate, units.ref & member, idx)
                + 0.20 * _masked_mean(units.preferred, pair, idx) + 0.20 * _masked_mean(units.preferred_hard, pair, idx)
                + 0.01 * _masked_mean(units.margin, pair, idx))

    return ties


def _stats(records: list[dict[str, Any]], keep: list[int], score: Statistic, seed: int) -> dict[str, Any]:
    """STATS of the rows `keep` (indexes into records), `score` taking index arrays into records."""
    sub = [records[k] for k in keep]
    base = np.array(keep, dtype=np.intp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        accuracy, ci = with_ci(lambda idx: score(base[idx]), len(keep), seed=seed)
    scored = [r["rewards"] for r in sub if r.get("unscored") is None]
    single = [row_result(rewards) for rewards in scored if rewards.count(max(rewards)) == 1]  # one response on top
    return {"n": len(sub), "accuracy": accuracy, "accuracy_ci": ci,
            "accuracy_no_ties": estimate(lambda idx: np.asarray(single)[idx].mean(axis=-1), len(single)),
            "kappa": None, "tie_rate": rounded((len(scored) - len(single)) / len(sub)) if sub else None,
            "position_consistency": None, "unscored_rate": rounded((len(sub) - len(scored)) / len(sub)) if sub else None}


def best_of_n_report(run: BestOfNRun, *, meta: dict[str, Any], seed: int) -> dict[str, Any]:
    units = _units(run.records)
    names = list(run.usage)
    scores = {name: subset_score(units, name) for name in names}
    subsets = {name: {**_stats(run.records, [k for k, r in enumerate(run.records) if r["subset"] == name], scores[name], seed),
                      **usage_summary([run.usage[name]])} for name in names}

    def overall_score(idx: Indexes) -> Floats:
        return np.mean([scores[name](idx) for name in names], axis=0)

    overall = _stats(run.records, list(range(len(run.records))), overall_score, seed)
    return {**frame(meta, {"overall": overall, "subsets": subsets}, run.usage.values()), "rows": run.records}
