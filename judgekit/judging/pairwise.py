"""Pairwise judging of two responses against one rubric, criterion by criterion (docs/rubrics-and-formats.md).

- `principle` criteria: the judge states a preference A | B | tie, asked in both orders, (A, B)
  and (B, A); the swapped answer is mapped back; two answers that disagree make the criterion a
  tie and mark it position-inconsistent; either order unscored leaves it unscored.
- `hard_rule` criteria: judged pointwise on each side (the pointwise machinery); a side that fails
  a hard rule the other passes loses outright (margin -1 / +1); a hard rule unscored on either
  side leaves no winner (winner and margin null, the reason in `unscored`).
- `check` criteria: decided by code on each side; the better outcome is preferred.

Judge calls per pair, with K_p principles and K_h hard rules, one criterion per call:
2 * K_p + 2 * K_h (checks cost none). With --criteria-per-call all: 2 + 2 (if any hard rule).

Soft verdicts (`soft=True`): the request asks for token log-probabilities; where the backend
returns them, the probability of the verdict token is kept beside the hard verdict.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from judgekit.rubric.checks import run_check
from judgekit.judging.pointwise import PointwiseItem, PointwiseOutcome, judge_pointwise
from judgekit.protocol.templates import pairwise_messages
from judgekit.judging.results import CompareResult
from judgekit.data.rows import message_text
from judgekit.rubric.models import Criterion, Rubric
from judgekit.judging.scoring import order_consistent_preference, outcome_preference, pair_verdict
from judgekit.judging.verdicts import CriterionVerdict, VerdictCollector, chunk_ids


@dataclass(frozen=True)
class PairItem:
    prompt: Any
    response_a: Any
    response_b: Any
    reference: Any = None
    row: dict[str, Any] | None = None


@dataclass(frozen=True)
class PairOutcome:
    winner: str | None  # "A" | "B" | "tie" | None (nothing judged, or a hard rule unscored)
    margin: float | None
    preferences: dict[str, int | None]
    inconsistent: list[str]
    unscored: dict[str, str]
    reasoning: dict[str, str]
    soft: dict[str, float | None] | None = None
    thinking: dict[str, str] | None = None
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm
    adaptive_criteria: list[dict[str, Any]] | None = None  # pair-adaptive criteria (kept and dropped)


NOTHING_JUDGED = PairOutcome(None, None, {}, [], {}, {})


# ---- one pair -----------------------------------------------------------------------------------


def _side_rubric(rubric: Rubric, criteria: list[Criterion]) -> Rubric:
    return Rubric(name=rubric.name, description=rubric.description, version=rubric.version, criteria=tuple(criteria))


async def judge_pairwise(
    collector: VerdictCollector,
    rubric: Rubric,
    item: PairItem,
    *,
    criteria_per_call: str | int,
    allow_code: bool,
    soft: bool = False,
) -> PairOutcome:
    a, b = message_text(item.response_a), message_text(item.response_b)
    reference = message_text(item.reference) if item.reference is not None else None
    prefs: dict[str, int | None] = {}
    unscored: dict[str, str] = {}
    reasoning: dict[str, str] = {}
    inconsistent: list[str] = []
    soft_out: dict[str, float | None] = {}
    thinking: dict[str, str] = {}

    for c in rubric.checks:
        oa = run_check(c, a, reference=reference, row=item.row, allow_code=allow_code)
        ob = run_check(c, b, reference=reference, row=item.row, allow_code=allow_code)
        prefs[c.cid] = outcome_preference(c, oa.score, ob.score)
        if prefs[c.cid] is None:
            unscored[c.cid] = "; ".join(f"{side}: {o.reason}" for side, o in (("A", oa), ("B", ob)) if o.reason)

    hard = [c for c in rubric.model_judged if c.kind == "hard_rule"]
    principles = {c.cid: c for c in rubric.model_judged if c.kind != "hard_rule"}
    groups = chunk_ids(list(principles), collector.per_call("pairwise", criteria_per_call))

    async def ask(ids: list[str], first: str, second: str) -> tuple[dict[str, CriterionVerdict], dict[str, dict[str, float]]]:
        messages = pairwise_messages(
            prompt=item.prompt, response_a=first, response_b=second, criteria=[principles[i] for i in ids],
            reference=reference, rubric_name=rubric.name, rubric_description=rubric.description,
            mask_names=collector.mask_names, profile=collector.profile,
        )
        verdicts = await collector.collect(messages, "pairwise", ids, soft=soft)
        return verdicts, {cid: v.dist for cid, v in verdicts.items() if v.dist is not None}

    async def side(response: Any) -> PointwiseOutcome | None:
        if not hard:
            return None
        return await judge_pointwise(
            collector, _side_rubric(rubric, hard), PointwiseItem(item.prompt, response, item.reference, item.row),
            criteria_per_call=criteria_per_call, allow_code=allow_code,
            min_coverage=1.0,  # only the per-side hard-rule scores are used, not this reward
        )

    asks = [ask(ids, *order) for ids in groups for order in ((a, b), (b, a))]
    side_a, side_b, *answers = await asyncio.gather(side(a), side(b), *asks)
    first: dict[str, CriterionVerdict] = {}
    swapped: dict[str, CriterionVerdict] = {}
    soft_first: dict[str, dict[str, float]] = {}
    soft_swapped: dict[str, dict[str, float]] = {}
    for k, (verdicts, dists) in enumerate(answers):
        (first if k % 2 == 0 else swapped).update(verdicts)
        (soft_first if k % 2 == 0 else soft_swapped).update(dists)

    for cid in principles:
        v1, v2 = first[cid], swapped[cid]
        p, disagree = order_consistent_preference(v1.value, v2.value)  # type: ignore[arg-type]
        prefs[cid] = p
        if disagree:
            inconsistent.append(cid)
        if p is None:
            unscored[cid] = "; ".join(
                f"order {o}: {v.reason or 'no verdict'}" for o, v in (("A,B", v1), ("B,A", v2)) if v.value is None
            )
        if v1.reasoning or v2.reasoning:
            reasoning[cid] = f"[A,B] {v1.reasoning} | [B,A] {v2.reasoning}"
        if v1.thinking or v2.thinking:
            thinking[cid] = f"[A,B] {v1.thinking} | [B,A] {v2.thinking}"
        if soft:
            d1, d2 = soft_first.get(cid), soft_swapped.get(cid)
            soft_out[cid] = (d1.get("A", 0.0) + d2.get("B", 0.0)) / 2 if d1 and d2 else None

    scores_a = side_a.scores if side_a else {}
    scores_b = side_b.scores if side_b else {}
    for c in hard:
        prefs[c.cid] = outcome_preference(c, scores_a.get(c.cid), scores_b.get(c.cid))
        if prefs[c.cid] is None:
            reasons = [f"{s}: {o.unscored[c.cid]}" for s, o in (("A", side_a), ("B", side_b)) if o and c.cid in o.unscored]
            unscored[c.cid] = "; ".join(reasons) or "unscored"
        parts = [f"[{s}] {o.reasoning[c.cid]}" for s, o in (("A", side_a), ("B", side_b)) if o and c.cid in o.reasoning]
        if parts:
            reasoning[c.cid] = " | ".join(parts)

    ordered = {cid: prefs.get(cid) for cid in rubric.ids}
    winner, margin = pair_verdict(rubric.criteria, ordered, scores_a, scores_b)
    return PairOutcome(
        winner=winner,
        margin=margin,
        preferences=ordered,
        inconsistent=[cid for cid in rubric.ids if cid in inconsistent],
        unscored={cid: unscored[cid] for cid in rubric.ids if cid in unscored},
        reasoning=reasoning,
        soft=soft_out if soft else None,
        thinking=thinking or None,
    )


def compare_result(row_id: Any, outcome: PairOutcome, explain: bool) -> CompareResult:
    """The output row object (judgekit.judging.results.CompareResult) of one pair."""
    return CompareResult(
        id=row_id, winner=outcome.winner, margin=outcome.margin, preferences=outcome.preferences,
        inconsistent=outcome.inconsistent, unscored=outcome.unscored,
        explanations=dict(outcome.reasoning) if explain else None, soft=outcome.soft,
        thinking=outcome.thinking if explain else None, adaptive_criteria=outcome.adaptive_criteria,
        generated_criteria=outcome.generated_criteria,
    )
