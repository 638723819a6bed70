"""Rubrics-as-Rewards' implicit aggregation (`aggregation: implicit`): the judge reads the rubric's
principles all at once, with the response, and gives ONE holistic rating from 1 to 10 (reasoning
first, schema-constrained), normalised to [0, 1] by (rating - 1) / 9.

Everything that is not a principle keeps its own verdict: checks run as code and hard rules are
judged one by one (judging.pointwise), so gates veto exactly as in the explicit form. The reward is
the explicit formula with the principles replaced by one score, the rating, carrying their total
absolute weight:

    reward = clip( (W_p * rating + sum(w_i * v_i, other scored i)) / (W_p + sum(w_i > 0, other scored i)), 0, 1 )

A gate UNMET gives 0; a gate unscored, or no rating (the judge failed, after the bounded re-asks),
gives no reward, the reason under `unscored["*"]`. `scores` holds the criteria judged one by one;
the raw rating is `ratings["*"]` and the judge's reasoning `reasoning["*"]`. A panel's judges each
rate, and the panel's rule for ratings (judging.votes) makes one rating of theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from judgekit.data.rows import message_text
from judgekit.errors import JudgeError
from judgekit.judging.asking import CacheSlot, Unusable, ask_until_valid, echoed
from judgekit.judging.panel import Juror, PanelCollector
from judgekit.judging.pointwise import PointwiseItem, judge_pointwise
from judgekit.judging.results import ROW_FAILED, ScoreResult
from judgekit.judging.scoring import clip
from judgekit.judging.verdicts import VerdictCollector
from judgekit.judging.votes import Vote, decide
from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import call_context, render, row_context
from judgekit.protocol.wire import ParseProblem, extract_json_object
from judgekit.rubric.models import Criterion, Rubric
from judgekit.secrets import redact

LOW, HIGH = 1, 10  # the holistic rating's scale (a 1-10 Likert scale, as RaR's implicit judge)
WHOLE = ROW_FAILED  # the key of the holistic rating (and of why it is missing): the whole rubric, no one criterion

RATING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "rating": {"type": "integer", "minimum": LOW, "maximum": HIGH}},
    "required": ["reasoning", "rating"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Rating:
    value: int
    reasoning: str


def parse_rating(completion: Completion) -> Rating | Unusable:
    try:
        obj = extract_json_object(completion.text)
    except ParseProblem as exc:
        return Unusable(str(exc))
    value = obj.get("rating")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not LOW <= value <= HIGH:
        return Unusable(f'"rating" must be an integer from {LOW} to {HIGH}, got {value!r}')
    return Rating(value, redact(str(obj.get("reasoning") or "")))


def _request(collector: VerdictCollector, rubric: Rubric, principles: list[Criterion], item: PointwiseItem) -> JudgeRequest:
    row = row_context(prompt=item.prompt, responses={"response": message_text(item.response)},
                      reference=message_text(item.reference) if item.reference is not None else None,
                      rubric_name=rubric.name, rubric_description=rubric.description, mask_names=collector.mask_names)
    context = {**call_context(row, principles), "low": LOW, "high": HIGH,
               "weights": {c.cid: c.weight for c in principles}}
    messages = ({"role": "system", "content": render("implicit_system.j2", **context)},
                {"role": "user", "content": render("implicit_user.j2", **context)})
    sampling = collector.sampling
    return JudgeRequest(messages=messages, schema=RATING_SCHEMA, mode="pointwise", ids=(),
                        temperature=sampling.temperature, max_tokens=sampling.max_tokens, seed=sampling.seed)


def _reask(request: JudgeRequest, completion: Completion, problem: str) -> JudgeRequest:
    again = {"role": "user", "content": render("implicit_reask.j2", problem=problem, low=LOW, high=HIGH)}
    return replace(request, messages=(*request.messages, echoed(completion), again))


async def _rate(collector: VerdictCollector, request: JudgeRequest) -> Rating | str:
    """One judge's rating (cached), or why there is none."""
    runner = collector.runner
    slot = CacheSlot.of(collector.cache, runner, {"purpose": "implicit", **request.cache_fields()})
    hit = slot.get(runner, lambda e: Rating(int(e["rating"]), str(e["reasoning"])) if "rating" in e else None)
    if hit is not None:
        return hit
    try:
        asked = await ask_until_valid(runner, request, parse=parse_rating, reask=_reask, max_reasks=collector.max_reasks,
                                      slot=slot, encode=lambda r: {"rating": r.value, "reasoning": r.reasoning})
    except JudgeError as exc:
        return f"judge call failed: {exc}"
    return asked.value if asked.value is not None else f"no usable rating after {asked.asks} ask(s): {asked.problem}"


async def holistic_rating(collector: VerdictCollector, rubric: Rubric, principles: list[Criterion],
                          item: PointwiseItem) -> Rating | str:
    """The rating of the response against `principles` at once, or why there is none; a panel's
    judges' ratings are made one by its rule for ratings."""
    jurors = collector.jurors if isinstance(collector, PanelCollector) else [Juror(collector, 1.0, "judge")]
    answers = await gather_all(*(_rate(j.collector, _request(j.collector, rubric, principles, item)) for j in jurors))
    if len(answers) == 1:
        return answers[0]
    voters = [(j, a) for j, a in zip(jurors, answers) if isinstance(a, Rating)]
    assert isinstance(collector, PanelCollector)
    value, why = decide([Vote(a.value, j.weight) for j, a in voters], collector.aggregate, pairwise=False)
    if not voters:
        return "no judge gave a rating: " + "; ".join(f"{j.name}: {a}" for j, a in zip(jurors, answers))
    if not isinstance(value, int):
        return why or "no rating"
    return Rating(value, " | ".join(f"[{j.name}] {a.reasoning}" for j, a in voters if a.reasoning))


def implicit_reward(others: Sequence[Criterion], scores: Mapping[str, float | None], principle_weight: float,
                    rating: float | None, *, min_coverage: float) -> tuple[float | None, float]:
    """(reward, coverage) of the module's formula: `others` are the applicable criteria judged one by
    one, `rating` the normalised holistic rating (None: none), standing for `principle_weight`."""
    scored = [c for c in others if scores.get(c.cid) is not None]
    total = principle_weight + sum(abs(c.weight) for c in others)
    covered = (principle_weight if rating is not None else 0.0) + sum(abs(c.weight) for c in scored)
    share = covered / total if total > 0 else 1.0
    if any(c.is_gate and scores[c.cid] == 0 for c in scored):
        return 0.0, share
    if rating is None or any(c.is_gate and scores.get(c.cid) is None for c in others):
        return None, share
    if share < min_coverage - 1e-9:  # the tolerance keeps float sums from missing the bar by rounding
        return None, share
    met = principle_weight * rating + sum(c.weight * float(scores[c.cid] or 0.0) for c in scored)
    positive = principle_weight + sum(c.weight for c in scored if c.weight > 0)
    return (clip(met / positive) if positive > 0 else clip(rating)), share


async def judge_implicit(
    collector: VerdictCollector, rubric: Rubric, item: PointwiseItem, *, criteria_per_call: str | int,
    allow_code: bool, min_coverage: float, soft: bool = False,
) -> ScoreResult:
    """judge_pointwise's counterpart for `aggregation: implicit` (soft verdicts do not apply: one rating)."""
    principles = [c for c in rubric.criteria if c.kind == "principle"]
    others = [c for c in rubric.criteria if c.kind != "principle"]
    if not principles:
        return await judge_pointwise(collector, rubric, item, criteria_per_call=criteria_per_call, allow_code=allow_code,
                                     min_coverage=min_coverage)
    rest = rubric.model_copy(update={"criteria": tuple(others), "aggregation": "explicit"})

    async def one_by_one() -> ScoreResult | None:
        if not others:
            return None
        return await judge_pointwise(collector, rest, item, criteria_per_call=criteria_per_call, allow_code=allow_code,
                                     min_coverage=1.0)  # only its per-criterion scores are used

    # Errors are raised once both halves have finished, so no call is left running.
    explicit, rated = await asyncio.gather(one_by_one(), holistic_rating(collector, rubric, principles, item),
                                           return_exceptions=True)
    for result in (explicit, rated):
        if isinstance(result, BaseException):
            raise result
    assert not isinstance(explicit, BaseException) and not isinstance(rated, BaseException)
    scores = dict(explicit.scores) if explicit else {}
    unscored = dict(explicit.unscored) if explicit else {}
    unscored.pop(WHOLE, None)  # "no criterion applies" of the one-by-one part: the principles still do
    reasoning = dict(explicit.explanations or {}) if explicit else {}
    skipped = (explicit.not_applicable or []) if explicit else []
    applicable = [c for c in others if c.cid not in skipped]
    rating = (rated.value - LOW) / (HIGH - LOW) if isinstance(rated, Rating) else None
    if isinstance(rated, Rating):
        reasoning[WHOLE] = rated.reasoning
    else:
        unscored[WHOLE] = f"no holistic rating: {rated}"
    reward, share = implicit_reward(applicable, scores, sum(abs(c.weight) for c in principles), rating,
                                    min_coverage=min_coverage)
    return ScoreResult(reward=reward, coverage=share, scores=scores, unscored=unscored, explanations=reasoning,
                       thinking=explicit.thinking if explicit else None, not_applicable=skipped or None,
                       ratings={WHOLE: rated.value} if isinstance(rated, Rating) else None,
                       decided_by=explicit.decided_by if explicit else None)
