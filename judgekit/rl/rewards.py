"""Rubric rewards for RL trainers: the scorer the trainer adapters share.

One `RewardScorer` (a rubric, a Judge and the adapters' shared RewardOptions, judgekit.rl.options)
turns a batch of (prompt, completion, reference, row) into one reward per completion: identical
completions are judged once, per-row rubrics are read from the row, the group strategies (anchor,
round_robin) judge each prompt's completions together, and the shaping options of
judgekit.rl.shaping are applied last. The adapters only translate each trainer's calling convention:

- TRL: judgekit.rl.trl (`TrlReward`; `trl_reward` and `trl_criterion_rewards` as plain functions).
- verl: judgekit.rl.verl (`compute_score`, settings from verl's reward_kwargs).
- OpenRLHF: judgekit.rl.serve (`judgekit serve`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judgekit.data.rows import message_text, pick
from judgekit.data.transcript import Text, as_text, transcript_problem
from judgekit.errors import InputError
from judgekit.judge import Judge
from judgekit.judging.judgment import rank_group, score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.ranking import Group, RankOutcome
from judgekit.judging.results import ScoreResult
from judgekit.llm.engine import map_rows
from judgekit.rl.ensemble import ensemble_outcome
from judgekit.rl.guards import (
    Auditor,
    Canary,
    GuardReport,
    apply_dropout,
    audit_metrics,
    build_canaries,
    canary_metrics,
    judge_canaries,
    seeded,
    share,
)
from judgekit.rl.options import RewardOptions
from judgekit.rl.shaping import shape_rewards, word_count
from judgekit.rubric.formats import ROW_RUBRIC_FIELDS, row_rubric, rubric_for
from judgekit.rubric.models import Rubric, RubricLike, as_rubric
from judgekit.secrets import redact

logger = logging.getLogger("judgekit")


def _json_key(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


TIMED_OUT = "timed out"


def timed_out_item(rubric: Rubric) -> ScoreResult:
    """A completion whose judging the time bound cut: every criterion unscored, no reward."""
    return ScoreResult(reward=None, coverage=0.0, scores=dict.fromkeys(rubric.ids), unscored=dict.fromkeys(rubric.ids, TIMED_OUT))


@dataclass
class BatchRewards:
    """The outcome of one batch, one entry per completion, in order."""

    rewards: list[float | None]  # after shaping
    raw: list[float | None]  # the rubric formula, before shaping
    scores: list[dict[str, float | None]]
    unscored: list[dict[str, str]]
    rubrics: list[Rubric]
    judged: int  # distinct (rubric, prompt, completion, reference) items actually judged
    criterion_ids: list[str] = field(default_factory=list)
    coverage: list[float | None] = field(default_factory=list)  # pointwise strategy; None for group strategies
    timed_out: list[bool] = field(default_factory=list)
    guards: GuardReport = field(default_factory=GuardReport)  # canaries, audits, dropout: what to log, and a mask

    @property
    def unscored_count(self) -> int:
        """Completions without a reward (the judge failed, coverage fell short, or time ran out)."""
        return sum(r is None for r in self.raw)

    def criterion_means(self) -> dict[str, float]:
        """Mean score (1 MET, 0 UNMET) per criterion over the completions where it was scored."""
        means: dict[str, float] = {}
        for cid in self.criterion_ids:
            values = [s[cid] for s in self.scores if s.get(cid) is not None]
            if values:
                means[cid] = sum(values) / len(values)  # type: ignore[arg-type]
        return means


class RewardScorer:
    """Score batches of completions against a rubric (or each row's own rubric) with a Judge."""

    def __init__(self, rubric: RubricLike | None, judge: Judge, options: RewardOptions | None = None) -> None:
        self.rubric = None if rubric is None else as_rubric(rubric)
        self.judge = judge
        self.options = options or RewardOptions()
        if self.options.panel_reward == "mean_minus_std" and not judge.judge_spec.judges:
            # A setting that cannot work for any completion: said once, not as every completion's failure.
            raise InputError("panel_reward mean_minus_std takes a panel judge (its judges' rewards); this judge is one model",
                             field="panel_reward")
        self._row_rubrics: dict[str, Rubric | None] = {}
        self.auditor = Auditor(self.options.audit_judge) if self.options.audit_judge is not None else None

    # ---- inputs --------------------------------------------------------------------------

    def rubric_for(self, row: dict[str, Any] | None) -> tuple[str, Rubric]:
        """(a key naming the rubric, the rubric) for a row: its own rubric if it has one (each read once)."""
        present = {k: row[k] for k in ROW_RUBRIC_FIELDS if row.get(k) is not None} if row else {}
        key = _json_key(present) if present else ""
        if key and key not in self._row_rubrics:
            self._row_rubrics[key] = row_rubric(present)
        own = self._row_rubrics.get(key)
        # With a meta-rubric the criteria may all be written per pair: no rubric needed.
        optional = self.options.adaptive is not None
        return (key if own is not None else ""), rubric_for(own, self.rubric, optional=optional, given_to=" to the reward function")

    def reference_of(self, row: dict[str, Any] | None) -> object:
        if not row:
            return None
        column = self.options.reference_column
        mapping = {"reference": column} if column else {}
        return pick(row, "reference", mapping)[1]

    # ---- one batch -----------------------------------------------------------------------

    async def score_batch(
        self,
        prompts: Sequence[Text],
        completions: Sequence[Text],
        *,
        references: Sequence[object] | None = None,
        rows: Sequence[dict[str, Any] | None] | None = None,
        timeout: float | None = None,
        step: int | None = None,
    ) -> BatchRewards:
        """One reward per completion. Runs from any event loop (judging runs on the judge's loop).

        `timeout`: seconds the batch's judging may take; a completion not judged by then has no
        reward, every criterion unscored with the reason "timed out" (its calls are cancelled).
        `step`: the trainer's step, which seeds the guards' choices (None: the batch's content does)."""
        n = len(completions)
        if len(prompts) != n:
            raise InputError(f"{len(prompts)} prompts for {n} completions; they must pair up", field="prompts")
        rows = list(rows) if rows is not None else [None] * n
        if references is None:
            references = [self.reference_of(r) for r in rows]
        picked = [self.rubric_for(r) for r in rows]
        texts = [message_text(c) for c in completions]
        # A completion as judged: chat messages (tool calls and results) go to the judge whole, the
        # rubric's view choosing what it sees; two transcripts with the same text are not the same.
        judged = [(c, c if isinstance(c, str) else _json_key(c)) for c in completions]
        prompt_keys = [_json_key(p) for p in prompts]
        ref_keys = [_json_key(r) for r in references]
        judged_references = [None if r is None else as_text(r) for r in references]  # as the judge is shown them
        step_key = str(step) if step is not None else _json_key([prompt_keys, [k for _, k in judged]])
        group_keys = [p + "\0" + r for p, r in zip(prompt_keys, ref_keys)]
        report = GuardReport()
        picked, kept = apply_dropout(self.options, picked, group_keys, step_key)
        if kept is not None:
            report.metrics["judgekit/rubric_dropout/kept"] = kept

        # the guards' judging runs beside the batch's own, within the same time bound
        guarding = asyncio.ensure_future(self._guard(picked, prompts, completions, judged_references, rows, group_keys, step_key, timeout))
        pointwise = self.options.strategy == "pointwise"
        try:
            if pointwise:
                found, count = await self._pointwise(picked, prompts, judged, judged_references, rows, prompt_keys, ref_keys, timeout)
            else:
                found, count = await self._grouped(picked, prompts, judged, judged_references, prompt_keys, ref_keys, timeout)
        except BaseException:
            guarding.cancel()
            raise
        outcomes = [o if o is not None else timed_out_item(r) for o, (_, r) in zip(found, picked)]
        canaries, audited = await guarding
        if canaries is not None:
            canary_metrics(self.options, canaries[0], canaries[1], report)
        if audited is not None:
            audit_metrics([outcomes[i] for i in audited[0]], audited[1], report)

        raw = [None if (self.options.strict and o.unscored) else o.reward for o in outcomes]
        unscored = [o.unscored for o in outcomes]
        par_references = None
        if self.options.par:
            par_references = await self._par_references(picked, prompts, judged_references, rows, prompt_keys, ref_keys, timeout)
            for i, (ref, why) in enumerate(par_references):
                if raw[i] is not None and ref is None:
                    raw[i], unscored[i] = None, {**unscored[i], "*": why}
        scores = [o.scores for o in outcomes]
        rubrics = [r for _, r in picked]
        shaped = shape_rewards(
            raw, self.options.shaping, keys=list(zip(prompt_keys, ref_keys)), vetoed=_vetoed(scores, rubrics),
            lengths=[word_count(t) for t in texts], par_references=None if par_references is None else [r for r, _ in par_references],
        )
        if report.masked:  # the judge is being fooled: no reward from this batch, with the reason
            logger.warning("judgekit: a batch's rewards are masked: %s", report.masked)
            shaped, raw = [None] * n, [None] * n
            unscored = [{"*": report.masked, **{k: v for k, v in u.items() if k != "*"}} for u in unscored]
        ids = _criterion_ids(([self.rubric] if self.rubric is not None else []) + rubrics)
        return BatchRewards(shaped, raw, scores, unscored, rubrics, count, ids,
                            [o.coverage if pointwise else None for o in outcomes], [o is None for o in found], report)

    async def _guard(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Text], completions: Sequence[Text], references: Sequence[Text | None],
        rows: Sequence[dict[str, Any] | None], group_keys: list[str], step: str, timeout: float | None,
    ) -> tuple[tuple[list[Canary], list[ScoreResult]] | None, tuple[list[int], list[ScoreResult | None]] | None]:
        """The canaries (judged by the training judge) and the audits (by the audit judge) with their
        verdicts: measured, never part of a reward. Past the time bound a canary has no reward (left
        out of the rates) and an audit abstains."""
        canaries = audits = None
        if self.options.canary_rate > 0:
            built = build_canaries(self.options, picked, prompts, completions, references, rows, group_keys, step)
            try:
                results = await asyncio.wait_for(judge_canaries(self.judge, self._item_reward, built), timeout)
            except asyncio.TimeoutError:
                results = [ScoreResult(reward=None, scores={}, unscored={"*": TIMED_OUT}) for _ in built]
            canaries = (built, results)
        if self.auditor is not None and self.options.audit_rate > 0:
            first: dict[tuple[str, str, str], int] = {}
            for i in range(len(completions)):
                first.setdefault((picked[i][0], group_keys[i], _json_key(completions[i])), i)
            distinct = sorted(first.values())
            chosen = [distinct[j] for j in share(distinct, self.options.audit_rate, seeded(self.options, step, "audit", "batch"))]
            items = [(picked[i][1], PointwiseItem(prompts[i], completions[i], references[i], rows[i])) for i in chosen]
            try:
                verdicts = await asyncio.wait_for(self.auditor.audit(items), timeout)
            except asyncio.TimeoutError:
                verdicts = [None] * len(items)
            audits = (chosen, verdicts)
        return canaries, audits

    async def _pointwise(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Text], completions: list[tuple[Text, str]],
        references: Sequence[Text | None], rows: Sequence[dict[str, Any] | None], prompt_keys: list[str], ref_keys: list[str],
        timeout: float | None,
    ) -> tuple[list[ScoreResult | None], int]:
        """Each completion's judgment (None: the time bound cut it), and how many were judged."""
        first: dict[Hashable, int] = {}
        slot: list[int] = []
        for i in range(len(completions)):
            key = (picked[i][0], prompt_keys[i], completions[i][1], ref_keys[i])
            slot.append(first.setdefault(key, i))
        unique = sorted(set(slot))

        async def one(i: int, deadline: _Deadline) -> ScoreResult | None:
            rubric = picked[i][1]
            if problem := transcript_problem(completions[i][0]):  # a trainer's bad completion: no reward, the reason
                why = f"completion{problem[0]}: {problem[1]}"
                return ScoreResult(reward=None, scores=dict.fromkeys(rubric.ids), unscored=dict.fromkeys(rubric.ids, why))
            try:
                return await asyncio.wait_for(
                    self._item_reward(rubric, PointwiseItem(prompts[i], completions[i][0], references[i], rows[i])), deadline.left())
            except asyncio.TimeoutError:
                return None

        async def batch() -> list[ScoreResult | None]:  # on the judge's loop: one hop there per batch, not per completion
            deadline = _Deadline(timeout)
            return await map_rows(unique, lambda i: one(i, deadline), concurrency=self.judge.config.concurrency,
                                  failed=lambda i, why: ScoreResult(reward=None, scores=dict.fromkeys(picked[i][1].ids),
                                                                    unscored={"*": why.reason}, failure=why.kind))

        by_index = dict(zip(unique, await self.judge.arun(batch())))
        return [by_index[s] for s in slot], len(unique)

    async def _item_reward(self, rubric: Rubric, item: PointwiseItem) -> ScoreResult:
        """One response's reward: the judge's, or with `panel_reward: mean_minus_std` each panel judge's
        own reward (from its own verdicts) made one conservative reward (judgekit.rl.ensemble)."""
        context = self.judge.context()
        if self.options.panel_reward == "mean_minus_std":
            return await ensemble_outcome(context, rubric, item, self.options.panel_k)
        return await score_item(context, rubric, item)

    async def _par_references(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Text], references: Sequence[Text | None],
        rows: Sequence[dict[str, Any] | None], prompt_keys: list[str], ref_keys: list[str], timeout: float | None,
    ) -> list[tuple[float | None, str]]:
        """Each completion's PAR reference reward (the given number, or its reference response judged
        with the same rubric, once per prompt and reference), and why it has none."""
        given = self.options.par_reference_reward
        if given is not None:
            return [(given, "")] * len(prompts)
        first: dict[Hashable, int] = {}
        slot = [first.setdefault((picked[i][0], prompt_keys[i], ref_keys[i]), i) for i in range(len(prompts))]

        async def one(i: int, deadline: _Deadline) -> tuple[float | None, str]:
            if references[i] is None:
                return None, "PAR: the row has no reference response to compare with (or give par_reference_reward)"
            item = PointwiseItem(prompts[i], message_text(references[i]), references[i], rows[i])
            try:
                o = await asyncio.wait_for(self._item_reward(picked[i][1], item), deadline.left())
            except asyncio.TimeoutError:
                return None, f"PAR: the reference response's judging {TIMED_OUT}"
            reason = "; ".join(f"{k}: {v}" for k, v in o.unscored.items()) or "no reward under the coverage rule"
            return o.reward, ("" if o.reward is not None else f"PAR: the reference response has no reward ({reason})")

        unique = sorted(set(slot))

        async def batch() -> list[tuple[float | None, str]]:
            deadline = _Deadline(timeout)
            return await map_rows(unique, lambda i: one(i, deadline), concurrency=self.judge.config.concurrency)

        by_index = dict(zip(unique, await self.judge.arun(batch())))
        return [by_index[s] for s in slot]

    async def _grouped(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Text], completions: list[tuple[Text, str]],
        references: Sequence[Text | None], prompt_keys: list[str], ref_keys: list[str], timeout: float | None,
    ) -> tuple[list[ScoreResult | None], int]:
        groups: dict[Hashable, list[int]] = {}
        for i in range(len(completions)):
            groups.setdefault((picked[i][0], prompt_keys[i], ref_keys[i]), []).append(i)

        async def one(members: list[int], deadline: _Deadline) -> tuple[list[int], list[str], RankOutcome | None]:
            distinct = list(dict.fromkeys(completions[i][1] for i in members))
            given = {completions[i][1]: completions[i][0] for i in members}
            lead = members[0]
            try:
                outcome = await asyncio.wait_for(rank_group(
                    self.judge.context(), picked[lead][1], Group(prompts[lead], [given[k] for k in distinct], references[lead]),
                    strategy=self.options.strategy, adaptive=self.options.adaptive,
                ), deadline.left())
            except asyncio.TimeoutError:
                outcome = None
            return members, distinct, outcome

        async def batch() -> list[tuple[list[int], list[str], RankOutcome | None]]:  # on the judge's loop
            deadline = _Deadline(timeout)
            return await map_rows(groups.values(), lambda m: one(m, deadline), concurrency=self.judge.config.concurrency)

        out: list[ScoreResult | None] = [None] * len(picked)
        judged = 0
        for members, distinct, outcome in await self.judge.arun(batch()):
            judged += len(distinct)
            if outcome is None:
                continue
            position = {t: j for j, t in enumerate(distinct)}
            for i in members:
                j = position[completions[i][1]]
                scores = dict(outcome.scores[j]) if outcome.scores else {}
                reward = outcome.rewards[j]
                unscored = {} if reward is not None else {"*": f"no reward from the {self.options.strategy} strategy"}
                out[i] = ScoreResult(reward=reward, coverage=outcome.coverage[j] if outcome.coverage else 0.0, scores=scores,
                                     unscored=unscored)
        return out, judged


class _Deadline:
    """The end of a batch's time bound (None: no bound), on the loop that judges it: completions
    started late (the row engine judges a bounded number at once) get only what is left of it."""

    def __init__(self, timeout: float | None) -> None:
        self._end = None if timeout is None else asyncio.get_running_loop().time() + timeout

    def left(self) -> float | None:
        return None if self._end is None else max(0.0, self._end - asyncio.get_running_loop().time())


def refuse_reserved_ids(rubric: Rubric | None, reserved: frozenset[str], key: str) -> None:
    """A criterion whose per-criterion log key would overwrite one of judgekit's own keys is bad input."""
    clash = sorted(set(rubric.ids) & reserved) if rubric is not None else []
    if clash:
        name = key.format(clash[0])
        raise InputError(f"rename it: its log key {name} is one of judgekit's own keys", criterion=clash[0])


class UnscoredTally:
    """Counts completions sent without a reward (as a stand-in number) and says so on the log,
    at the 1st, 10th, 100th, ... of them: never silent, never a flood."""

    def __init__(self, stand_in: str) -> None:
        self.stand_in = stand_in
        self.total = 0
        self.unscored = 0
        self._next = 1
        self._lock = threading.Lock()

    def note(self, result: BatchRewards) -> None:
        with self._lock:
            self.total += len(result.raw)
            self.unscored += result.unscored_count
            if self.unscored < self._next:
                return
            while self._next <= self.unscored:
                self._next *= 10
            reason = next((next(iter(u.values()), "") for r, u in zip(result.raw, result.unscored) if r is None and u), "")
            logger.warning("judgekit: %d of %d responses so far had no reward and got %s (e.g. %s)",
                           self.unscored, self.total, self.stand_in, redact(reason)[:300] or "no reason given")


def _vetoed(scores: Sequence[dict[str, float | None]], rubrics: Sequence[Rubric]) -> list[bool]:
    """Whether each completion failed a gate (a hard rule, or a check with `gate: true`)."""
    return [any(c.is_gate and s.get(c.cid) == 0 for c in rub.criteria) for s, rub in zip(scores, rubrics)]


def _criterion_ids(rubrics: Sequence[Rubric]) -> list[str]:
    """Every criterion id of the rubrics, once, in first-seen order."""
    ids: list[str] = []
    for rub in rubrics:
        for cid in rub.ids:
            if cid not in ids:
                ids.append(cid)
    return ids
