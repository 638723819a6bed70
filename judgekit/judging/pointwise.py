"""Pointwise judging of one response against one rubric: checks by code, the rest by the judge."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from judgekit.data.rows import message_text
from judgekit.data.transcript import Text, response_text, tool_calls
from judgekit.jsonvalue import JSONObject
from judgekit.judging.results import ROW_FAILED, ScoreResult
from judgekit.judging.scoring import coverage, pointwise_reward
from judgekit.judging.verdicts import CriterionVerdict, Messages, Render, VerdictCollector, chunk_ids
from judgekit.judging.votes import is_rating
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import call_context, row_context
from judgekit.protocol.wire import NOT_APPLICABLE, Value, forms_of
from judgekit.rubric.checks import run_check
from judgekit.rubric.models import Criterion, Rubric, View

NOTHING_APPLIES = "no criterion of the rubric applies (every one was judged not_applicable)"


@dataclass(frozen=True)
class PointwiseItem:
    prompt: Text
    response: Text
    reference: Text | None = None
    row: JSONObject | None = None  # the row's fields, for a profile's templates


async def judge_pointwise(
    collector: VerdictCollector,
    rubric: Rubric,
    item: PointwiseItem,
    *,
    criteria_per_call: str | int,
    allow_code: bool,
    min_coverage: float,
    soft: bool = False,
) -> ScoreResult:
    verdicts = _check_verdicts(rubric, item, allow_code)
    judged = {c.cid: c for c in rubric.model_judged}
    groups = chunk_ids(list(judged), collector.per_call("pointwise", criteria_per_call))
    prompts = _RowPrompts(rubric, item)
    asks = (collector.collect(prompts.question([judged[i] for i in ids]), "pointwise", ids, soft=soft,
                              forms=forms_of([judged[i] for i in ids])) for ids in groups)
    for part in await gather_all(*asks):
        verdicts.update(part)
    outcome = _outcome(rubric, verdicts, min_coverage)
    if not soft:
        return outcome
    probs = {c.cid: soft_value(c, verdicts[c.cid].dist) for c in rubric.model_judged}
    applicable = [c for c in rubric.criteria if c.cid not in (outcome.not_applicable or ())]
    return outcome.model_copy(update={
        "soft": probs, "soft_reward": pointwise_reward(applicable, outcome.scores, probs, min_coverage=min_coverage)})


def soft_value(criterion: Criterion, dist: dict[str, float] | None) -> float | None:
    """P(MET), or for a rated criterion its expected normalised rating, from a verdict distribution
    (log-probabilities, or the shares of repeated samples); "not_applicable" is left out."""
    if not dist:
        return None
    if criterion.choices is not None:
        picked = {label: p for label, p in dist.items() if criterion.choice_score(label) is not None}
        total = sum(picked.values())
        return sum(p * (criterion.choice_score(label) or 0.0) for label, p in picked.items()) / total if total > 0 else None
    if criterion.scale is None:
        return dist.get("true", 0.0)
    scale = criterion.scale
    ratings = {int(k): p for k, p in dist.items() if k.lstrip("-").isdigit() and scale.min <= int(k) <= scale.max}
    total = sum(ratings.values())
    return sum(p * scale.normalised(r) for r, p in ratings.items()) / total if total > 0 else None


def _check_verdicts(rubric: Rubric, item: PointwiseItem, allow_code: bool) -> dict[str, CriterionVerdict]:
    """The criteria decided by code, without a model call."""
    response = message_text(item.response)
    reference = message_text(item.reference) if item.reference is not None else None
    calls = [(call.name, call.arguments_valid()) for call in tool_calls(item.response)]
    verdicts: dict[str, CriterionVerdict] = {}
    for criterion in rubric.checks:
        checked = run_check(criterion, response, reference=reference, row=item.row, allow_code=allow_code, tool_calls=calls)
        verdicts[criterion.cid] = CriterionVerdict(None if checked.score is None else bool(checked.score), "", checked.reason)
    return verdicts


class _RowPrompts:
    """The questions of one row: the row's part of the prompt context is made once (per name
    masking: a panel's judges may differ), each call adding its own criteria."""

    def __init__(self, rubric: Rubric, item: PointwiseItem) -> None:
        self.rubric, self.item = rubric, item
        self._rows: dict[tuple[bool, View], dict[str, object]] = {}

    def _row(self, mask_names: bool, view: View) -> dict[str, Any]:
        if (mask_names, view) not in self._rows:
            item = self.item
            self._rows[mask_names, view] = row_context(
                prompt=item.prompt, responses={"response": response_text(item.response, view)},
                reference=message_text(item.reference) if item.reference is not None else None,
                rubric_name=self.rubric.name, rubric_description=self.rubric.description, mask_names=mask_names,
            )
        return self._rows[mask_names, view]

    def question(self, criteria: list[Criterion]) -> Render:
        """The chat messages asking about `criteria`, as a given collector asks them (pointwise_messages)."""
        return partial(self._messages, criteria)

    def _messages(self, criteria: list[Criterion], asked: VerdictCollector) -> Messages:
        row = self._row(asked.mask_names, asked.view or self.rubric.view)
        return asked.profile.messages("pointwise", call_context(row, criteria))


def _outcome(rubric: Rubric, verdicts: dict[str, CriterionVerdict], min_coverage: float) -> ScoreResult:
    scores: dict[str, float | None] = {}
    unscored: dict[str, str] = {}
    reasoning: dict[str, str] = {}
    thinking: dict[str, str] = {}
    decided_by: dict[str, str] = {}
    ratings: dict[str, int | str] = {}
    not_applicable: list[str] = []
    for c in rubric.criteria:  # rubric order, whatever order the answers came in
        cid, v = c.cid, verdicts[c.cid]
        scores[cid] = criterion_score(c, v.value)
        if v.value is None:
            unscored[cid] = v.reason or "no verdict"
        elif v.value == NOT_APPLICABLE:
            not_applicable.append(cid)
        elif is_rating(v.value) and c.scale is not None:
            ratings[cid] = int(v.value)
        elif c.choices is not None and isinstance(v.value, str):
            ratings[cid] = v.value
        if v.reasoning:
            reasoning[cid] = v.reasoning
        if v.thinking:
            thinking[cid] = v.thinking
        if v.decided_by:
            decided_by[cid] = v.decided_by
    applicable = [c for c in rubric.criteria if c.cid not in not_applicable]
    if not applicable:
        unscored[ROW_FAILED] = NOTHING_APPLIES
    return ScoreResult(reward=pointwise_reward(applicable, scores, min_coverage=min_coverage) if applicable else None,
                       coverage=coverage(applicable, scores), scores=scores, unscored=unscored, not_applicable=not_applicable or None,
                       ratings=ratings or None, explanations=reasoning, thinking=thinking or None, decided_by=decided_by or None)


def criterion_score(criterion: Criterion, value: Value | None) -> float | None:
    """A verdict as its score: MET 1, UNMET 0, a rating or a chosen option's value normalised to [0, 1]; None
    unscored or not applicable."""
    if value is None or value == NOT_APPLICABLE:
        return None
    if criterion.choices is not None:
        return criterion.choice_score(str(value))
    if criterion.scale is not None and is_rating(value):
        return criterion.scale.normalised(int(value))
    return int(bool(value))
