"""Pointwise judging of one response against one rubric: checks by code, the rest by the judge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from judgekit.rubric.checks import run_check
from judgekit.protocol.templates import pointwise_messages
from judgekit.data.rows import message_text
from judgekit.rubric.models import Rubric
from judgekit.judging.scoring import coverage, pointwise_reward
from judgekit.judging.verdicts import CriterionVerdict, VerdictCollector, chunk_ids


@dataclass(frozen=True)
class PointwiseItem:
    prompt: Any
    response: Any
    reference: Any = None
    row: dict[str, Any] | None = None


@dataclass(frozen=True)
class PointwiseOutcome:
    reward: float | None
    scores: dict[str, int | None]
    unscored: dict[str, str]
    reasoning: dict[str, str]
    coverage: float  # the scored share of the rubric's total absolute weight
    soft: dict[str, float | None] | None = None  # P(MET) per model-judged criterion (log-probabilities)
    soft_reward: float | None = None  # the reward formula with P(MET) in place of 1/0
    thinking: dict[str, str] | None = None
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm: the criteria written for this prompt


async def judge_pointwise(
    collector: VerdictCollector,
    rubric: Rubric,
    item: PointwiseItem,
    *,
    criteria_per_call: str | int,
    allow_code: bool,
    min_coverage: float,
    soft: bool = False,
) -> PointwiseOutcome:
    response = message_text(item.response)
    reference = message_text(item.reference) if item.reference is not None else None
    verdicts: dict[str, CriterionVerdict] = {}

    for criterion in rubric.checks:
        outcome = run_check(criterion, response, reference=reference, row=item.row, allow_code=allow_code)
        verdicts[criterion.cid] = CriterionVerdict(
            None if outcome.score is None else bool(outcome.score), "", outcome.reason
        )

    by_id = {c.cid: c for c in rubric.model_judged}
    groups = chunk_ids(list(by_id), collector.per_call("pointwise", criteria_per_call))

    async def ask(ids: list[str]) -> dict[str, CriterionVerdict]:
        messages = pointwise_messages(
            prompt=item.prompt, response=response, criteria=[by_id[i] for i in ids], reference=reference,
            rubric_name=rubric.name, rubric_description=rubric.description, mask_names=collector.mask_names,
            profile=collector.profile,
        )
        return await collector.collect(messages, "pointwise", ids, soft=soft)

    for part in await asyncio.gather(*(ask(ids) for ids in groups)):
        verdicts.update(part)

    scores: dict[str, int | None] = {}
    unscored: dict[str, str] = {}
    reasoning: dict[str, str] = {}
    thinking: dict[str, str] = {}
    for cid in rubric.ids:  # rubric order, whatever order the answers came in
        v = verdicts[cid]
        scores[cid] = None if v.value is None else int(bool(v.value))
        if v.value is None:
            unscored[cid] = v.reason or "no verdict"
        if v.reasoning:
            reasoning[cid] = v.reasoning
        if v.thinking:
            thinking[cid] = v.thinking
    outcome = PointwiseOutcome(pointwise_reward(rubric.criteria, scores, min_coverage=min_coverage), scores, unscored,
                               reasoning, coverage(rubric.criteria, scores), thinking=thinking or None)
    if not soft:
        return outcome
    probs: dict[str, float | None] = {}
    for cid in by_id:
        dist = verdicts[cid].dist
        probs[cid] = dist.get("true", 0.0) if dist else None
    return replace(outcome, soft=probs,
                   soft_reward=pointwise_reward(rubric.criteria, scores, probs, min_coverage=min_coverage))
