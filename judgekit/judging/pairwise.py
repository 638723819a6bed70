"""Pairwise judging of two responses against one rubric, criterion by criterion (docs/rubrics-and-formats.md).

- `principle` criteria: the judge states a preference A | B | tie, asked in both orders, (A, B)
  and (B, A); the swapped answer is mapped back; two answers that disagree make the criterion a
  tie and mark it position-inconsistent; either order unscored leaves it unscored.
- `hard_rule` criteria: judged pointwise on each side (the pointwise machinery); a side that fails
  a hard rule the other passes loses outright (margin -1 / +1); a hard rule unscored on either
  side leaves no winner (winner and margin null, the reason in `unscored`).
- `check` criteria: decided by code on each side; the better outcome is preferred. A check with
  `gate: true` is also a gate, as a hard rule is.
- criteria with named options (`choices`): judged pointwise on each side, the option worth more
  preferred (worth less on a pitfall); as with hard rules, no position bias between A and B.
- A criterion that allows "not_applicable": both orders saying so takes it out of the margin
  (listed in `not_applicable`); one order saying so is a disagreement (a tie, position-inconsistent).
  A hard rule that does not apply to one side counts as passed by that side.

Judge calls per pair, with K_p principles and K_h hard rules, one criterion per call:
2 * K_p + 2 * K_h (checks cost none). With --criteria-per-call all: 2 + 2 (if any hard rule).

Soft verdicts (`soft=True`): the request asks for token log-probabilities; where the backend
returns them, the probability of the verdict token is kept beside the hard verdict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from judgekit.data.rows import message_text
from judgekit.data.transcript import Text, response_text, tool_calls
from judgekit.jsonvalue import JSONObject, JSONValue
from judgekit.judging.pointwise import NOTHING_APPLIES, PointwiseItem, judge_pointwise
from judgekit.judging.results import ROW_FAILED, ScoreResult
from judgekit.judging.scoring import order_consistent_preference, outcome_preference, pair_verdict
from judgekit.judging.verdicts import CriterionVerdict, VerdictCollector, chunk_ids
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import pairwise_messages
from judgekit.protocol.wire import NOT_APPLICABLE, forms_of
from judgekit.rubric.checks import run_check
from judgekit.rubric.models import Criterion, Rubric


@dataclass(frozen=True)
class PairItem:
    prompt: Text
    response_a: Text
    response_b: Text
    reference: Text | None = None
    row: JSONObject | None = None  # the row's fields, for a profile's templates


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
    generated_criteria: list[dict[str, JSONValue]] | None = None  # rubric-rm
    adaptive_criteria: list[dict[str, JSONValue]] | None = None  # pair-adaptive criteria (kept and dropped)
    not_applicable: tuple[str, ...] = ()  # criteria that apply to neither response (out of the margin)
    decided_by: dict[str, str] | None = None  # a cascade's judge per criterion ("[A,B] j1 | [B,A] j2" when they differ)


NOTHING_JUDGED = PairOutcome(None, None, {}, [], {}, {})


# ---- one pair -----------------------------------------------------------------------------------


def _side_rubric(rubric: Rubric, criteria: list[Criterion]) -> Rubric:
    return Rubric(name=rubric.name, description=rubric.description, version=rubric.version, criteria=tuple(criteria),
                  view=rubric.view)


@dataclass
class _Tally:
    """Per-criterion results of one pair, filled by checks, principles and hard rules in turn."""

    prefs: dict[str, int | None] = field(default_factory=dict)
    unscored: dict[str, str] = field(default_factory=dict)
    reasoning: dict[str, str] = field(default_factory=dict)
    inconsistent: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    soft: dict[str, float | None] = field(default_factory=dict)
    thinking: dict[str, str] = field(default_factory=dict)
    decided_by: dict[str, str] = field(default_factory=dict)
    gate_checks: tuple[dict[str, float | None], dict[str, float | None]] = field(default_factory=lambda: ({}, {}))


@dataclass(frozen=True)
class _Texts:
    a: str
    b: str
    reference: str | None


async def judge_pairwise(
    collector: VerdictCollector,
    rubric: Rubric,
    item: PairItem,
    *,
    criteria_per_call: str | int,
    allow_code: bool,
    soft: bool = False,
) -> PairOutcome:
    view = collector.view or rubric.view
    texts = _Texts(response_text(item.response_a, view), response_text(item.response_b, view),
                   message_text(item.reference) if item.reference is not None else None)
    tally = _Tally()
    _tally_checks(tally, rubric, item, item.row, allow_code)
    # Hard rules and criteria with named options are judged on each response alone, then compared.
    hard = [c for c in rubric.model_judged if c.kind == "hard_rule" or c.choices is not None]
    principles = {c.cid: c for c in rubric.model_judged if c not in hard}
    groups = chunk_ids(list(principles), collector.per_call("pairwise", criteria_per_call))

    async def ask(ids: list[str], first: str, second: str) -> dict[str, CriterionVerdict]:
        def question(asked: VerdictCollector) -> list[dict[str, str]]:
            return pairwise_messages(
                prompt=item.prompt, response_a=first, response_b=second, criteria=[principles[i] for i in ids],
                reference=texts.reference, rubric_name=rubric.name, rubric_description=rubric.description,
                mask_names=asked.mask_names, profile=asked.profile,
            )

        return await collector.collect(question, "pairwise", ids, soft=soft, forms=forms_of([principles[i] for i in ids]))

    async def side(response: Text) -> ScoreResult | None:
        if not hard:
            return None
        return await judge_pointwise(
            collector, _side_rubric(rubric, hard), PointwiseItem(item.prompt, response, item.reference, item.row),
            criteria_per_call=criteria_per_call, allow_code=allow_code,
            min_coverage=1.0,  # only the per-side hard-rule scores are used, not this reward
        )

    asks = [ask(ids, *order) for ids in groups for order in ((texts.a, texts.b), (texts.b, texts.a))]
    sides, answers = await asyncio.gather(gather_all(side(item.response_a), side(item.response_b)), gather_all(*asks),
                                          return_exceptions=True)
    # Raised after both halves have finished, so no call is left running.
    if isinstance(sides, BaseException):
        raise sides
    if isinstance(answers, BaseException):
        raise answers
    side_a, side_b = sides
    first = {cid: v for verdicts in answers[0::2] for cid, v in verdicts.items()}
    swapped = {cid: v for verdicts in answers[1::2] for cid, v in verdicts.items()}
    for cid in principles:
        _tally_principle(tally, cid, first[cid], swapped[cid], soft)
    for c in hard:
        if c.choices is not None:
            _tally_choice(tally, c, side_a, side_b)
        else:
            _tally_hard_rule(tally, c, side_a, side_b)
        _tally_sides_deciders(tally, c.cid, side_a, side_b)
    return _outcome(rubric, tally, side_a, side_b, soft)


def _tally_checks(tally: _Tally, rubric: Rubric, item: PairItem, row: Mapping[str, object] | None, allow_code: bool) -> None:
    """Checks run on each response's text (its assistant turns, whatever the view) and tool calls."""
    reference = message_text(item.reference) if item.reference is not None else None
    for c in rubric.checks:
        oa, ob = (run_check(c, message_text(r), reference=reference, row=row, allow_code=allow_code,
                            tool_calls=[(t.name, t.arguments_valid()) for t in tool_calls(r)])
                  for r in (item.response_a, item.response_b))
        tally.prefs[c.cid] = outcome_preference(c, oa.score, ob.score)
        if c.gate:
            tally.gate_checks[0][c.cid], tally.gate_checks[1][c.cid] = oa.score, ob.score
        if tally.prefs[c.cid] is None:
            tally.unscored[c.cid] = "; ".join(f"{side}: {o.reason}" for side, o in (("A", oa), ("B", ob)) if o.reason)


def _tally_principle(tally: _Tally, cid: str, v1: CriterionVerdict, v2: CriterionVerdict, soft: bool) -> None:
    """A principle asked in both orders: v1 with (A, B), v2 with (B, A), mapped back."""
    na = (v1.value == NOT_APPLICABLE, v2.value == NOT_APPLICABLE)
    if all(na):
        tally.not_applicable.append(cid)
        p, disagree = None, False
    elif any(na) and v1.value is not None and v2.value is not None:
        p, disagree = 0, True
    else:
        p, disagree = order_consistent_preference(v1.value, v2.value)  # type: ignore[arg-type]
    tally.prefs[cid] = p
    if disagree:
        tally.inconsistent.append(cid)
    if p is None and not all(na):
        tally.unscored[cid] = "; ".join(
            f"order {o}: {v.reason or 'no verdict'}" for o, v in (("A,B", v1), ("B,A", v2)) if v.value is None
        )
    if v1.reasoning or v2.reasoning:
        tally.reasoning[cid] = f"[A,B] {v1.reasoning} | [B,A] {v2.reasoning}"
    if v1.thinking or v2.thinking:
        tally.thinking[cid] = f"[A,B] {v1.thinking} | [B,A] {v2.thinking}"
    if v1.decided_by or v2.decided_by:
        same = v1.decided_by == v2.decided_by
        tally.decided_by[cid] = str(v1.decided_by) if same else f"[A,B] {v1.decided_by} | [B,A] {v2.decided_by}"
    if soft:
        d1, d2 = v1.dist, v2.dist
        tally.soft[cid] = (d1.get("A", 0.0) + d2.get("B", 0.0)) / 2 if d1 and d2 else None


def _tally_sides_deciders(tally: _Tally, cid: str, side_a: ScoreResult | None, side_b: ScoreResult | None) -> None:
    """A cascade's judges of a criterion judged on each side ("[A] j1 | [B] j2" when they differ)."""
    by_a, by_b = ((side.decided_by or {}).get(cid) if side else None for side in (side_a, side_b))
    if by_a or by_b:
        tally.decided_by[cid] = str(by_a) if by_a == by_b else f"[A] {by_a} | [B] {by_b}"


def _tally_hard_rule(tally: _Tally, c: Criterion, side_a: ScoreResult | None, side_b: ScoreResult | None) -> None:
    """A hard rule judged pointwise on each side: the side that fails it where the other passes loses."""
    sides = (("A", side_a), ("B", side_b))
    if all(o and c.cid in (o.not_applicable or ()) for _, o in sides):
        tally.prefs[c.cid] = None
        tally.not_applicable.append(c.cid)
        return
    tally.prefs[c.cid] = outcome_preference(c, gate_scores(side_a).get(c.cid), gate_scores(side_b).get(c.cid))
    if tally.prefs[c.cid] is None:
        reasons = [f"{s}: {o.unscored[c.cid]}" for s, o in sides if o and c.cid in o.unscored]
        tally.unscored[c.cid] = "; ".join(reasons) or "unscored"
    parts = [f"[{s}] {o.explanations[c.cid]}" for s, o in sides if o and o.explanations and c.cid in o.explanations]
    if parts:
        tally.reasoning[c.cid] = " | ".join(parts)


def _tally_choice(tally: _Tally, c: Criterion, side_a: ScoreResult | None, side_b: ScoreResult | None) -> None:
    """A criterion with named options: each response's chosen option, the one worth more preferred (the
    one worth less for a pitfall); an option on one side only leaves it unscored."""
    assert side_a is not None and side_b is not None
    if c.cid in (side_a.not_applicable or ()) and c.cid in (side_b.not_applicable or ()):
        tally.prefs[c.cid] = None
        tally.not_applicable.append(c.cid)
        return
    tally.prefs[c.cid] = outcome_preference(c, side_a.scores.get(c.cid), side_b.scores.get(c.cid))
    if tally.prefs[c.cid] is None:
        reasons = [f"{s}: {o.unscored.get(c.cid, 'not applicable')}" for s, o in (("A", side_a), ("B", side_b))
                   if o.scores.get(c.cid) is None]
        tally.unscored[c.cid] = "; ".join(reasons)
    parts = [f"[{s}] {why}" for s, o in (("A", side_a), ("B", side_b)) if (why := (o.explanations or {}).get(c.cid))]
    if parts:
        tally.reasoning[c.cid] = " | ".join(parts)


def _outcome(rubric: Rubric, tally: _Tally, side_a: ScoreResult | None, side_b: ScoreResult | None,
             soft: bool) -> PairOutcome:
    ordered = {cid: tally.prefs.get(cid) for cid in rubric.ids}
    applicable = [c for c in rubric.criteria if c.cid not in tally.not_applicable]
    gates_a, gates_b = ({**gate_scores(side), **checks} for side, checks in zip((side_a, side_b), tally.gate_checks))
    winner, margin = pair_verdict(applicable, ordered, gates_a, gates_b)
    if not applicable:
        tally.unscored[ROW_FAILED] = NOTHING_APPLIES
    return PairOutcome(
        winner=winner,
        margin=margin,
        preferences=ordered,
        inconsistent=[cid for cid in rubric.ids if cid in tally.inconsistent],
        unscored={cid: tally.unscored[cid] for cid in [*rubric.ids, ROW_FAILED] if cid in tally.unscored},
        reasoning=tally.reasoning,
        soft=tally.soft if soft else None,
        thinking=tally.thinking or None,
        not_applicable=tuple(cid for cid in rubric.ids if cid in tally.not_applicable),
        decided_by=tally.decided_by or None,
    )


def gate_scores(side: ScoreResult | None) -> dict[str, float | None]:
    """A side's hard-rule scores for the gate: a rule that does not apply to it counts as passed."""
    if side is None:
        return {}
    return {**side.scores, **dict.fromkeys(side.not_applicable or (), 1)}
