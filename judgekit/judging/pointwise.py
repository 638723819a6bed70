"""Pointwise judging of one response against one rubric: checks by code, the rest by the judge."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from judgekit.data.rows import message_text
from judgekit.judging.scoring import coverage, pointwise_reward
from judgekit.judging.verdicts import CriterionVerdict, VerdictCollector, chunk_ids
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import pointwise_messages
from judgekit.rubric.checks import run_check
from judgekit.rubric.models import Rubric


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
    verdicts = _check_verdicts(rubric, item, allow_code)
    groups = chunk_ids([c.cid for c in rubric.model_judged], collector.per_call("pointwise", criteria_per_call))
    for part in await gather_all(*(_ask(collector, rubric, item, ids, soft) for ids in groups)):
        verdicts.update(part)
    outcome = _outcome(rubric, verdicts, min_coverage)
    if not soft:
        return outcome
    probs: dict[str, float | None] = {}
    for criterion in rubric.model_judged:
        dist = verdicts[criterion.cid].dist
        probs[criterion.cid] = dist.get("true", 0.0) if dist else None
    return replace(outcome, soft=probs,
                   soft_reward=pointwise_reward(rubric.criteria, outcome.scores, probs, min_coverage=min_coverage))


def _check_verdicts(rubric: Rubric, item: PointwiseItem, allow_code: bool) -> dict[str, CriterionVerdict]:
    """The criteria decided by code, without a model call."""
    response = message_text(item.response)
    reference = message_text(item.reference) if item.reference is not None else None
    verdicts: dict[str, CriterionVerdict] = {}
    for criterion in rubric.checks:
        checked = run_check(criterion, response, reference=reference, row=item.row, allow_code=allow_code)
        verdicts[criterion.cid] = CriterionVerdict(None if checked.score is None else bool(checked.score), "", checked.reason)
    return verdicts


async def _ask(
    collector: VerdictCollector, rubric: Rubric, item: PointwiseItem, ids: list[str], soft: bool
) -> dict[str, CriterionVerdict]:
    by_id = {c.cid: c for c in rubric.model_judged}

    def question(asked: VerdictCollector) -> list[dict[str, str]]:
        return pointwise_messages(
            prompt=item.prompt, response=message_text(item.response), criteria=[by_id[i] for i in ids],
            reference=message_text(item.reference) if item.reference is not None else None,
            rubric_name=rubric.name, rubric_description=rubric.description, mask_names=asked.mask_names,
            profile=asked.profile,
        )

    return await collector.collect(question, "pointwise", ids, soft=soft)


def _outcome(rubric: Rubric, verdicts: dict[str, CriterionVerdict], min_coverage: float) -> PointwiseOutcome:
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
    return PointwiseOutcome(pointwise_reward(rubric.criteria, scores, min_coverage=min_coverage), scores, unscored,
                            reasoning, coverage(rubric.criteria, scores), thinking=thinking or None)
