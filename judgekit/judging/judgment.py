"""The one place judgments start: score an item, compare a pair, rank a group, on a JudgeContext.

Everything that judges (`judgekit.Judge`, the trainer rewards, evaluation and its probes, rubric
authoring's checks of a criterion) calls these three. Each reads the JudgeConfig once (`_Asking`:
criteria per call, code checks, the coverage rule, soft verdicts as asked, configured or the
profile's default), writes the criteria that belong to the item at judging time (rubric-rm: the
prompt's, judging.rubric_rm; a meta-rubric: the pair's, judging.adaptive) and hands the rubric to
the judging of one response (judging.pointwise), one pair (judging.pairwise) or one group
(judging.ranking's strategies).

Only the judging of one response is imported with this module: pairs, groups, implicit aggregation
and criteria written at judging time load their modules when first asked for, so a run that only
scores does not pay for them at start-up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from judgekit.data.transcript import Text, as_text
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue
from judgekit.judging.context import JudgeContext
from judgekit.judging.pointwise import PointwiseItem, judge_pointwise
from judgekit.judging.results import ScoreResult
from judgekit.judging.verdicts import VerdictCollector
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.profiles import JudgeProfile
from judgekit.rubric.models import Rubric, empty_rubric

if TYPE_CHECKING:
    from judgekit.judging.pairwise import PairItem, PairOutcome
    from judgekit.judging.ranking import Group, RankOutcome
    from judgekit.rubric.meta import MetaRubric


@dataclass(frozen=True)
class _Asking:
    """How one judgment asks its verdicts: the JudgeConfig read once."""

    collector: VerdictCollector
    criteria_per_call: str | int
    allow_code: bool
    min_coverage: float
    soft: bool

    @classmethod
    def of(cls, context: JudgeContext, soft: bool | None) -> _Asking:
        config = context.config
        return cls(context.collector, config.criteria_per_call, config.allow_code, config.min_coverage,
                   context.soft_default(soft))

    def pointwise(self, rubric: Rubric, item: PointwiseItem) -> Awaitable[ScoreResult]:
        judge = judge_pointwise
        if rubric.aggregation == "implicit":
            from judgekit.judging.implicit import judge_implicit as judge
        return judge(self.collector, rubric, item, criteria_per_call=self.criteria_per_call,
                     allow_code=self.allow_code, min_coverage=self.min_coverage, soft=self.soft)

    def pairwise(self, rubric: Rubric, item: PairItem) -> Awaitable[PairOutcome]:
        from judgekit.judging.pairwise import judge_pairwise

        return judge_pairwise(self.collector, rubric, item, criteria_per_call=self.criteria_per_call,
                              allow_code=self.allow_code, soft=self.soft)


def makes_criteria(profile: JudgeProfile, adaptive: object = None) -> bool:
    """Whether criteria are written at judging time (rubric-rm, a meta-rubric), so no rubric is needed."""
    return adaptive is not None or profile.rubric_generator is not None


async def with_generated(context: JudgeContext, rubric: Rubric, prompt: object, reference: object
                         ) -> tuple[Rubric, list[dict[str, JSONValue]] | None]:
    """rubric-rm: the rubric plus the criteria the generator model wrote for this prompt (and those
    criteria, for the output row); other profiles: the rubric as given, None."""
    if context.profile.rubric_generator is None:
        return rubric, None
    from judgekit.judging.rubric_rm import with_generated_criteria

    return await with_generated_criteria(context, rubric, prompt, reference)


async def score_item(context: JudgeContext, rubric: Rubric, item: PointwiseItem, *, soft: bool | None = None) -> ScoreResult:
    """One (prompt, response) against a rubric, with the prompt's written criteria under rubric-rm."""
    rubric, generated = await with_generated(context, rubric, item.prompt, item.reference)
    outcome = await _Asking.of(context, soft).pointwise(rubric, item)
    return outcome.model_copy(update={"generated_criteria": generated}) if generated is not None else outcome


async def compare_pair(
    context: JudgeContext, rubric: Rubric | None, item: PairItem, *, soft: bool | None = None, adaptive: MetaRubric | None = None,
) -> PairOutcome:
    """One pair in both orders. With a rubric-rm profile the prompt's written criteria join the
    rubric; with `adaptive` so do the criteria written for this pair; both are recorded in the outcome."""
    generated = None
    if context.profile.rubric_generator is not None:
        rubric, generated = await with_generated(context, rubric or empty_rubric(), item.prompt, item.reference)
    outcome, written = await _pair(context, _Asking.of(context, soft), rubric, item, adaptive)
    return replace(outcome, generated_criteria=generated, adaptive_criteria=written)


async def _pair(context: JudgeContext, asking: _Asking, rubric: Rubric | None, item: PairItem,
                adaptive: MetaRubric | None) -> tuple[PairOutcome, list[dict[str, JSONValue]] | None]:
    """A pair against the rubric as it is (with `adaptive`: plus the criteria written for it), and the
    record of the written criteria."""
    from judgekit.judging.pairwise import NOTHING_JUDGED

    written = None
    if adaptive is not None:
        from judgekit.judging.adaptive import with_pair_criteria

        rubric, written = await with_pair_criteria(context, adaptive, rubric if rubric is not None and rubric.criteria else None,
                                                   item)
    if rubric is None or not rubric.criteria:
        return NOTHING_JUDGED, written
    return await asking.pairwise(rubric, item), written


async def rank_group(
    context: JudgeContext, rubric: Rubric, group: Group, *, strategy: str = "pointwise", anchor_index: int | None = None,
    adaptive: MetaRubric | None = None,
) -> RankOutcome:
    """One reward in [0, 1] per response of the group (see judging.ranking). The prompt's criteria
    are written once for the group (rubric-rm); with `adaptive`, criteria are written for each pair
    the strategy compares (anchor, round_robin), once per pair, and recorded in the outcome.
    `calls` counts the group's verdict calls (not the writing of criteria)."""
    from judgekit.judging.ranking import Judgments, RankOutcome, check_strategy, rank_responses

    check_strategy(strategy)
    if adaptive is not None and strategy == "pointwise":
        raise InputError("criteria written for a pair need a strategy that compares pairs: anchor or round_robin",
                         field="adaptive")
    if not group.responses:
        return RankOutcome([], None, [], 0)
    rubric, generated = await with_generated(context, rubric, group.prompt, group.reference)
    usage = ScopeUsage()
    members = _Members(context, _Asking.of(context.counting_into(usage), False), rubric, group, adaptive)
    outcome = await rank_responses(group, Judgments(members.score, members.compare), strategy=strategy,
                                   anchor_index=anchor_index)
    return replace(outcome, calls=usage.calls, generated_criteria=generated, adaptive_criteria=members.written())


class _Members:
    """The judgments of one group's members; with a meta-rubric, each pair's criteria written once."""

    def __init__(self, context: JudgeContext, asking: _Asking, rubric: Rubric, group: Group, adaptive: MetaRubric | None) -> None:
        self.context, self.asking, self.rubric, self.group, self.adaptive = context, asking, rubric, group, adaptive
        self._pairs: dict[str, asyncio.Future[tuple[PairOutcome, list[dict[str, JSONValue]] | None]]] = {}
        self._written: list[tuple[tuple[int, int], list[dict[str, JSONValue]] | None]] = []  # (pair, its criteria)

    def _response(self, index: int) -> Text:
        """Member `index`'s text; -1: the reference (None shown as the empty text it always was)."""
        return as_text(self.group.reference) if index < 0 else self.group.responses[index]

    def score(self, index: int) -> Awaitable[ScoreResult]:
        g = self.group
        return self.asking.pointwise(self.rubric, PointwiseItem(g.prompt, self._response(index), g.reference, g.row))

    async def compare(self, a: int, b: int) -> PairOutcome:
        from judgekit.judging.pairwise import PairItem

        g = self.group
        item = PairItem(g.prompt, self._response(a), self._response(b), g.reference, g.row)
        if self.adaptive is None:
            return await self.asking.pairwise(self.rubric, item)
        key = json.dumps([item.response_a, item.response_b], sort_keys=True, ensure_ascii=False, default=str)
        pending = self._pairs.get(key)
        if pending is None:  # the same two texts (a repeated response) are written for once
            pending = self._pairs[key] = asyncio.ensure_future(_pair(self.context, self.asking, self.rubric, item, self.adaptive))
        outcome, written = await pending  # cancelled with the group (a trainer's time bound), not left running
        self._written.append(((a, b), written))
        return outcome

    def written(self) -> list[dict[str, JSONValue]] | None:
        """Each compared pair's written criteria, in pair order (None without a meta-rubric)."""
        if self.adaptive is None:
            return None
        return [{"pair": [a, b], "criteria": criteria} for (a, b), criteria in sorted(self._written, key=lambda w: w[0])]
