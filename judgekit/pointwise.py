"""Pointwise judging of one response against one rubric: checks by code, the rest by the judge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from judgekit.checks import run_check
from judgekit.prompting import pointwise_messages
from judgekit.rows import message_text
from judgekit.rubric import Rubric
from judgekit.scoring import pointwise_reward
from judgekit.verdicts import CriterionVerdict, VerdictCollector, chunk_ids


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


async def judge_pointwise(
    collector: VerdictCollector,
    rubric: Rubric,
    item: PointwiseItem,
    *,
    criteria_per_call: str | int,
    allow_code: bool,
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
    groups = chunk_ids(list(by_id), criteria_per_call)

    async def ask(ids: list[str]) -> dict[str, CriterionVerdict]:
        messages = pointwise_messages(
            prompt=item.prompt, response=response, criteria=[by_id[i] for i in ids], reference=reference,
            rubric_name=rubric.name, rubric_description=rubric.description, mask_names=collector.mask_names,
        )
        return await collector.collect(messages, "pointwise", ids)

    for part in await asyncio.gather(*(ask(ids) for ids in groups)):
        verdicts.update(part)

    scores: dict[str, int | None] = {}
    unscored: dict[str, str] = {}
    reasoning: dict[str, str] = {}
    for cid in rubric.ids:  # rubric order, whatever order the answers came in
        v = verdicts[cid]
        scores[cid] = None if v.value is None else int(bool(v.value))
        if v.value is None:
            unscored[cid] = v.reason or "no verdict"
        if v.reasoning:
            reasoning[cid] = v.reasoning
    return PointwiseOutcome(pointwise_reward(rubric.criteria, scores), scores, unscored, reasoning)
