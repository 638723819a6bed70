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

from judgekit.authoring.rubric_rm import score_item
from judgekit.data.rows import message_text, pick
from judgekit.errors import InputError
from judgekit.judge import Judge, rank_group
from judgekit.judging.pointwise import PointwiseItem
from judgekit.llm.engine import map_rows
from judgekit.rl.options import RewardOptions
from judgekit.rl.shaping import shape_rewards, word_count
from judgekit.rubric.formats import row_rubric
from judgekit.rubric.models import Rubric, RubricLike, as_rubric
from judgekit.secrets import redact

logger = logging.getLogger("judgekit")
_ROW_RUBRIC_FIELDS = ("rubric", "rubrics", "score_rubric")


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


TIMED_OUT = "timed out"


@dataclass(frozen=True)
class ItemReward:
    """One completion's judgment: the reward (None: no reward under the coverage rule)."""

    reward: float | None
    scores: dict[str, float | None]
    unscored: dict[str, str]
    coverage: float | None = None  # the scored share of the rubric's weight (pointwise strategy)
    timed_out: bool = False


def timed_out_item(rubric: Rubric) -> ItemReward:
    """A completion whose judging the time bound cut: every criterion unscored, no reward."""
    return ItemReward(None, {cid: None for cid in rubric.ids}, {cid: TIMED_OUT for cid in rubric.ids}, 0.0, True)


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
        self._row_rubrics: dict[str, Rubric] = {}

    # ---- inputs --------------------------------------------------------------------------

    def rubric_for(self, row: dict[str, Any] | None) -> tuple[str, Rubric]:
        """(a key naming the rubric, the rubric) for a row: its own rubric if it has one."""
        if row:
            present = {k: row[k] for k in _ROW_RUBRIC_FIELDS if row.get(k) is not None}
            if present:
                key = _json_key(present)
                if key not in self._row_rubrics:
                    decoded = {k: _maybe_json(v) for k, v in present.items()}
                    found = row_rubric(decoded)
                    if found is not None:
                        self._row_rubrics[key] = found
                if key in self._row_rubrics:
                    return key, self._row_rubrics[key]
        if self.rubric is None:
            raise InputError("the row has no rubric and none was given to the reward function", field="rubric")
        return "", self.rubric

    def reference_of(self, row: dict[str, Any] | None) -> Any:
        if not row:
            return None
        column = self.options.reference_column
        mapping = {"reference": column} if column else {}
        return pick(row, "reference", mapping)[1]

    # ---- one batch -----------------------------------------------------------------------

    async def score_batch(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        *,
        references: Sequence[Any] | None = None,
        rows: Sequence[dict[str, Any] | None] | None = None,
        timeout: float | None = None,
    ) -> BatchRewards:
        """One reward per completion. Runs from any event loop (judging runs on the judge's loop).

        `timeout`: seconds the batch's judging may take; a completion not judged by then has no
        reward, every criterion unscored with the reason "timed out" (its calls are cancelled)."""
        n = len(completions)
        if len(prompts) != n:
            raise InputError(f"{len(prompts)} prompts for {n} completions; they must pair up", field="prompts")
        rows = list(rows) if rows is not None else [None] * n
        if references is None:
            references = [self.reference_of(r) for r in rows]
        picked = [self.rubric_for(r) for r in rows]
        texts = [message_text(c) for c in completions]
        prompt_keys = [_json_key(p) for p in prompts]
        ref_keys = [_json_key(r) for r in references]

        if self.options.strategy == "pointwise":
            outcomes, judged = await self._pointwise(picked, prompts, texts, references, rows, prompt_keys, ref_keys, timeout)
        else:
            outcomes, judged = await self._grouped(picked, prompts, texts, references, prompt_keys, ref_keys, timeout)

        raw = [None if (self.options.strict and o.unscored) else o.reward for o in outcomes]
        scores = [o.scores for o in outcomes]
        rubrics = [r for _, r in picked]
        shaped = shape_rewards(
            raw, self.options.shaping, keys=list(zip(prompt_keys, ref_keys)), vetoed=_vetoed(scores, rubrics),
            lengths=[word_count(t) for t in texts],
        )
        ids = _criterion_ids(([self.rubric] if self.rubric is not None else []) + rubrics)
        return BatchRewards(shaped, raw, scores, [o.unscored for o in outcomes], rubrics, judged, ids,
                            [o.coverage for o in outcomes], [o.timed_out for o in outcomes])

    async def _pointwise(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Any], texts: list[str], references: Sequence[Any],
        rows: Sequence[dict[str, Any] | None], prompt_keys: list[str], ref_keys: list[str], timeout: float | None,
    ) -> tuple[list[ItemReward], int]:
        first: dict[Hashable, int] = {}
        slot: list[int] = []
        for i in range(len(texts)):
            key = (picked[i][0], prompt_keys[i], texts[i], ref_keys[i])
            slot.append(first.setdefault(key, i))
        unique = sorted(set(slot))

        async def one(i: int, deadline: _Deadline) -> ItemReward:
            rubric = picked[i][1]
            try:
                o = await asyncio.wait_for(
                    score_item(self.judge.context(), rubric, PointwiseItem(prompts[i], texts[i], references[i], rows[i])),
                    deadline.left())
            except asyncio.TimeoutError:
                return timed_out_item(rubric)
            return ItemReward(o.reward, o.scores, o.unscored, o.coverage)

        async def batch() -> list[ItemReward]:  # on the judge's loop: one hop there per batch, not per completion
            deadline = _Deadline(timeout)
            return await map_rows(unique, lambda i: one(i, deadline), concurrency=self.judge.config.concurrency,
                                  failed=lambda i, reason: ItemReward(None, dict.fromkeys(picked[i][1].ids), {"*": reason}))

        by_index = dict(zip(unique, await self.judge.arun(batch())))
        return [by_index[s] for s in slot], len(unique)

    async def _grouped(
        self, picked: list[tuple[str, Rubric]], prompts: Sequence[Any], texts: list[str], references: Sequence[Any],
        prompt_keys: list[str], ref_keys: list[str], timeout: float | None,
    ) -> tuple[list[ItemReward], int]:
        groups: dict[Hashable, list[int]] = {}
        for i in range(len(texts)):
            groups.setdefault((picked[i][0], prompt_keys[i], ref_keys[i]), []).append(i)

        async def one(members: list[int], deadline: _Deadline) -> tuple[list[int], list[str], Any]:
            distinct = list(dict.fromkeys(texts[i] for i in members))
            lead = members[0]
            try:
                outcome = await asyncio.wait_for(rank_group(
                    self.judge, picked[lead][1], prompts[lead], distinct, strategy=self.options.strategy,
                    reference=references[lead],
                ), deadline.left())
            except asyncio.TimeoutError:
                outcome = None
            return members, distinct, outcome

        async def batch() -> list[tuple[list[int], list[str], Any]]:  # on the judge's loop
            deadline = _Deadline(timeout)
            return await map_rows(groups.values(), lambda m: one(m, deadline), concurrency=self.judge.config.concurrency)

        out: list[ItemReward] = [timed_out_item(r) for _, r in picked]
        judged = 0
        for members, distinct, outcome in await self.judge.arun(batch()):
            judged += len(distinct)
            if outcome is None:
                continue
            position = {t: j for j, t in enumerate(distinct)}
            for i in members:
                j = position[texts[i]]
                scores = dict(outcome.scores[j]) if outcome.scores else {}
                reward = outcome.rewards[j]
                unscored = {} if reward is not None else {"*": f"no reward from the {self.options.strategy} strategy"}
                out[i] = ItemReward(reward, scores, unscored, outcome.coverage[j] if outcome.coverage else None)
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
    """Whether each completion failed a hard rule."""
    return [any(c.kind == "hard_rule" and s.get(c.cid) == 0 for c in rub.criteria) for s, rub in zip(scores, rubrics)]


def _criterion_ids(rubrics: Sequence[Rubric]) -> list[str]:
    """Every criterion id of the rubrics, once, in first-seen order."""
    ids: list[str] = []
    for rub in rubrics:
        for cid in rub.ids:
            if cid not in ids:
                ids.append(cid)
    return ids


def _maybe_json(value: Any) -> Any:
    """Dataset columns often hold a rubric as a JSON string; decode it when it is one."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value

