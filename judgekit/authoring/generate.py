"""Rubric generation: from prompts (and references), and contrastively from chosen/rejected pairs.

Every generation call asks for structured output too (`criteria_schema`: a list of criteria
{id, text, kind, weight}), goes through the judge's call runner (retries, concurrency, stats) and
is stored in the judge's cache, so a second identical run costs no calls (`generate_json`, in
judgekit.judging.writing: criteria written at judging time are asked for the same way).

Contrastive generation (OpenRubrics' CRG): the model proposes a whole rubric for a labelled pair,
hard rules from the prompt's explicit constraints and principles from the contrast between the
chosen and the rejected response; the set is kept only if its criteria together reproduce the
preference (the chosen response's reward is higher; with pairwise verification, its margin wins in
both orders). A failed set is shown to the model in the next proposal, a bounded number of times
(rejection sampling of rubric sets). A hard rule both responses satisfy stays in a kept set.

All coroutines here run on the judge's loop: `judge.run(generate_rubrics(judge.context(), ...))`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from judgekit.data.rows import DataRow, as_messages
from judgekit.data.transcript import as_text
from judgekit.jsonvalue import JSONValue
from judgekit.judging.context import JudgeContext
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.verdicts import VerdictCollector
from judgekit.judging.writing import GenerationFailed, echo_problem, echoes_template, generate_json, item_text, similar_text
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import FENCE, data_nonce, pairwise_messages, render
from judgekit.rubric.ids import slug, unique_id
from judgekit.rubric.models import Criterion, Rubric

CRITERIA_MAX_TOKENS = 2048


# ---- the generation schema and tolerant parsing ------------------------------------------------


def criteria_schema(max_items: int = 12) -> dict[str, Any]:
    """JSON schema of a generation answer: {"criteria": [{id, text, kind, weight}]}."""
    item = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9_]{1,48}$"},
            "text": {"type": "string"},
            "kind": {"type": "string", "enum": ["principle", "hard_rule"]},
            "weight": {"type": "number"},
        },
        "required": ["id", "text", "kind", "weight"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"criteria": {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}},
        "required": ["criteria"],
        "additionalProperties": False,
    }


def _raw_items(obj: object) -> list[Any]:
    """The proposed criteria in an answer, whatever reasonable shape it took."""
    if isinstance(obj, list):
        return obj
    if not isinstance(obj, dict):
        return []
    for key in ("criteria", "rubric", "items", "sub_criteria", "subcriteria"):
        if isinstance(obj.get(key), list):
            return obj[key]
    items: list[Any] = []
    for key, kind in (("hard_rules", "hard_rule"), ("principles", "principle")):
        for it in obj.get(key) or []:
            items.append({"text": it, "kind": kind} if isinstance(it, str) else {**it, "kind": kind} if isinstance(it, dict) else it)
    return items


def criteria_problems(obj: object) -> list[str]:
    """Why an answer holds no usable criterion (empty list: it is usable)."""
    items = _raw_items(obj)
    if not items:
        return ["the JSON object has no 'criteria' list"]
    if echo := echo_problem(items):
        return echo
    if not any(item_text(it) for it in items):
        return ["no criterion has a non-empty 'text'"]
    return []


def parse_criteria(
    obj: object, *, taken: set[str] | None = None, id_prefix: str = "", default_kind: str = "principle",
    existing_texts: Sequence[str] = (), near_duplicate: float = 0.9,
) -> list[Criterion]:
    """Criteria from a generation answer: ids made valid and unique (added to `taken`), kinds and
    weights defaulted, items without text and near-duplicates (of each other or of
    `existing_texts`) left out."""
    taken = taken if taken is not None else set()
    seen = list(existing_texts)
    out: list[Criterion] = []
    for item in _raw_items(obj):
        text = item_text(item)
        if not text or echoes_template(item) or any(similar_text(text, t) > near_duplicate for t in seen):
            continue
        raw = item if isinstance(item, dict) else {}
        kind_raw = str(raw.get("kind") or raw.get("type") or default_kind).lower().replace(" ", "_").replace("-", "_")
        kind = "hard_rule" if kind_raw in {"hard_rule", "rule", "constraint", "hard"} else "principle"
        try:
            weight = float(raw.get("weight", 1))
        except (TypeError, ValueError):
            weight = 1.0
        if weight != weight or weight == 0:  # NaN or zero
            weight = 1.0
        weight = max(-10.0, min(10.0, weight))
        name = str(raw.get("id") or "") or " ".join(text.split()[:5])
        base = slug(name)
        if id_prefix and not base.startswith(id_prefix):
            base = f"{id_prefix}_{base}"
        cid = unique_id(base, taken)
        out.append(Criterion(id=cid, text=text, kind=kind, weight=weight))
        seen.append(text)
    return out


async def ask_criteria(
    context: JudgeContext, messages: Sequence[dict[str, str]], *, max_items: int, seed: int | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """A list of criteria (rubric generation, refine's decomposition): given room for a whole rubric,
    at least CRITERIA_MAX_TOKENS whatever the judge's verdict budget."""
    return await generate_json(
        context, messages, criteria_schema(max_items), validate=criteria_problems, seed=seed, temperature=temperature,
        max_tokens=max(context.sampling.max_tokens, CRITERIA_MAX_TOKENS),
    )


# ---- generation from prompts -------------------------------------------------------------------


def _prompt_view(row: DataRow) -> dict[str, Any]:
    return {"messages": as_messages(row.prompt), "reference": row.reference}


def generate_messages(rows: Sequence[DataRow], *, per_prompt: bool, max_criteria: int) -> list[dict[str, str]]:
    items = [_prompt_view(r) for r in rows]
    tag = data_nonce(items)
    ctx = {"fence": FENCE, "nonce": tag, "items": items, "per_prompt": per_prompt, "max_criteria": max_criteria}
    return [
        {"role": "system", "content": render("rubric_generate_system.j2", **ctx)},
        {"role": "user", "content": render("rubric_generate_user.j2", **ctx)},
    ]


async def generate_from_prompts(context: JudgeContext, rows: Sequence[DataRow], *, max_criteria: int = 8) -> list[Criterion]:
    """One rubric's criteria for the given prompts (one prompt: a per-prompt rubric)."""
    messages = generate_messages(rows, per_prompt=len(rows) == 1, max_criteria=max_criteria)
    obj = await ask_criteria(context, messages, max_items=max_criteria)
    return parse_criteria(obj)[:max_criteria]


# ---- contrastive generation from pairs (OpenRubrics) -------------------------------------------


@dataclass
class ContrastiveResult:
    kept: list[Criterion]
    tried: list[dict[str, JSONValue]]  # every proposal with its verdicts on chosen and rejected, and the outcome
    attempts: int
    failure: str | None = None


def contrastive_messages(
    row: DataRow, chosen: str, rejected: str, *, attempt: int, failed: Sequence[str], kept: Sequence[str], max_criteria: int,
) -> list[dict[str, str]]:
    prompt_messages = as_messages(row.prompt)
    tag = data_nonce(prompt_messages, chosen, rejected, row.reference)
    ctx = {
        "fence": FENCE, "nonce": tag, "prompt_messages": prompt_messages, "chosen": chosen, "rejected": rejected,
        "reference": row.reference, "attempt": attempt, "failed": list(failed), "kept": list(kept),
        "max_criteria": max_criteria,
    }
    return [
        {"role": "system", "content": render("rubric_generate_contrastive_system.j2", **ctx)},
        {"role": "user", "content": render("rubric_generate_contrastive_user.j2", **ctx)},
    ]


async def _pairwise_margin(context: JudgeContext, criteria: Sequence[Criterion], row: DataRow, a: str, b: str) -> float | None:
    """The weighted margin of a set of criteria judged pairwise (A first): > 0 prefers A."""
    collector = context.collector

    def question(asked: VerdictCollector) -> list[dict[str, str]]:
        return pairwise_messages(prompt=as_text(row.prompt), response_a=a, response_b=b, criteria=list(criteria),
                                 reference=row.reference, rubric_name="contrastive", rubric_description="",
                                 mask_names=asked.mask_names, profile=asked.profile)

    votes = await collector.collect(question, "pairwise", [c.cid for c in criteria])
    sign = {"A": 1.0, "B": -1.0, "tie": 0.0}
    scored = [(abs(c.weight), sign[v.value]) for c in criteria if (v := votes.get(c.cid)) is not None and v.value in sign]
    total = sum(w for w, _ in scored)
    return sum(w * p for w, p in scored) / total if total else None


async def set_reproduces_preference(
    context: JudgeContext, criteria: Sequence[Criterion], row: DataRow, chosen: str, rejected: str, *, verify: str = "pointwise",
) -> tuple[bool, float | None, float | None]:
    """Do these criteria, together, prefer the chosen response? `pointwise`: each response judged
    alone against the whole set; the chosen one's reward must be higher (order plays no part).
    `pairwise`: the set's weighted margin must favour the chosen response with it shown first and
    shown second. Returns (kept, value 1, value 2): the two rewards, or the two margins."""
    if verify == "pairwise":
        first, second = await gather_all(_pairwise_margin(context, criteria, row, chosen, rejected),
                                         _pairwise_margin(context, criteria, row, rejected, chosen))
        return (first is not None and second is not None and first > 0 > second), first, second
    whole = Rubric(name="contrastive", criteria=list(criteria))
    prompt = as_text(row.prompt)
    a = await score_item(context, whole, PointwiseItem(prompt, chosen, row.reference, row.data))
    b = await score_item(context, whole, PointwiseItem(prompt, rejected, row.reference, row.data))
    return (a.reward is not None and b.reward is not None and a.reward > b.reward), a.reward, b.reward


async def contrastive_criteria(
    context: JudgeContext, row: DataRow, pair: tuple[int, int], *, max_tries: int = 3, max_criteria: int = 8,
    taken: set[str] | None = None, verify: str = "pointwise",
) -> ContrastiveResult:
    """Rejection sampling of rubric sets (OpenRubrics): propose a whole rubric (hard rules from the
    prompt's explicit constraints, principles from the contrast), keep the first set whose criteria
    together reproduce the preference, else ask again naming the failed sets, `max_tries` times at most.
    A hard rule both responses satisfy stays in a kept set: the set, not each criterion, must separate."""
    chosen, rejected = row.responses[pair[0]], row.responses[pair[1]]
    taken = taken if taken is not None else set()
    failed: list[str] = []
    tried: list[dict[str, JSONValue]] = []
    attempts = 0
    for attempt in range(max_tries):
        attempts += 1
        messages = contrastive_messages(row, chosen, rejected, attempt=attempt, failed=failed, kept=[], max_criteria=max_criteria)
        try:
            obj = await ask_criteria(context, messages, max_items=max_criteria, seed=attempt, temperature=None if attempt == 0 else 0.7)
        except GenerationFailed as exc:
            return ContrastiveResult([], tried, attempts, str(exc))
        proposed = parse_criteria(obj, taken=set(taken))[:max_criteria]
        if not proposed:
            continue
        ok, v1, v2 = await set_reproduces_preference(context, proposed, row, chosen, rejected, verify=verify)
        first, second = ("chosen", "rejected") if verify == "pointwise" else ("chosen_first", "rejected_first")
        tried.append({"attempt": attempt, "kept": ok, first: v1, second: v2,
                      "criteria": [{"id": c.cid, "text": c.display_text, "kind": c.kind, "weight": c.weight} for c in proposed]})
        if ok:
            taken.update(c.cid for c in proposed)
            return ContrastiveResult(proposed, tried, attempts)
        failed.append(" | ".join(f"[{c.kind}] {c.display_text}" for c in proposed))
    return ContrastiveResult([], tried, attempts, f"no proposed rubric reproduced the preference in {attempts} tries")


# ---- whole runs --------------------------------------------------------------------------------


GeneratedRubric = tuple[DataRow | None, Rubric | None, str | None]  # (row or None for the dataset, rubric, failure)


class PairLog(TypedDict):
    """How contrastive generation went for one labelled pair."""

    row: JSONValue  # the row's id
    pair: list[int]  # (chosen, rejected) indexes into the row's responses
    attempts: int
    tried: list[dict[str, JSONValue]]  # each proposed set: its criteria, the two values compared, whether it was kept
    failure: str | None


@dataclass
class GenerateOutcome:
    rubrics: list[GeneratedRubric]
    log: list[PairLog]  # contrastive generation: one entry per pair


def _provenance(method: str, judge_spec: str, source: str, extra: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    return {"generated_by": f"judgekit rubric generate ({method})", "judge": judge_spec, "data": source, **extra}


_RowCriteria = tuple[DataRow, list[Criterion], str | None]  # a row, the criteria kept from its pairs, the first failure


async def generate_rubrics(
    context: JudgeContext, rows: Sequence[DataRow], *, name: str, per_prompt: bool, pairs: bool, source: str,
    max_criteria: int = 8, max_tries: int = 3, sample: int = 8, verify: str = "pointwise",
) -> GenerateOutcome:
    """Per prompt: one rubric per row. Else one rubric for the dataset (from a sample of prompts,
    or, with pairs, the union of the criteria that reproduced each pair's preference)."""
    log: list[PairLog] = []
    spec = context.spec
    if pairs:
        results = await gather_all(*(_contrastive_row(context, r, log, max_tries=max_tries,
                                                          max_criteria=max_criteria, verify=verify) for r in rows))
        if per_prompt:
            return GenerateOutcome([_row_rubric(found, name, spec, source, max_criteria) for found in results], log)
        provenance = _provenance("contrastive", spec, source, {"pairs": sum(len(r.pairs) for r in rows)})
        return GenerateOutcome([_merged_rubric(results, name, provenance)], log)
    if per_prompt:
        return GenerateOutcome(await gather_all(
            *(_prompted_rubric(context, r, name, spec, source, max_criteria) for r in rows)), log)
    chosen_rows = list(rows)[:sample]
    provenance = _provenance("from prompts", spec, source, {"prompts": len(chosen_rows)})
    return GenerateOutcome([await _sampled_rubric(context, chosen_rows, name, provenance, max_criteria)], log)


async def _contrastive_row(
    context: JudgeContext, row: DataRow, log: list[PairLog], *, max_tries: int, max_criteria: int, verify: str,
) -> _RowCriteria:
    """The criteria that reproduced the preference of each of the row's pairs (near-duplicates once)."""
    taken: set[str] = set()
    kept: list[Criterion] = []
    failure = None
    for pair in row.pairs:
        res = await contrastive_criteria(context, row, pair, max_tries=max_tries,
                                         max_criteria=max_criteria, taken=taken, verify=verify)
        log.append({"row": row.id, "pair": list(pair), "attempts": res.attempts, "tried": res.tried,
                    "failure": res.failure})
        kept.extend(c for c in res.kept if not any(similar_text(c.display_text, k.display_text) > 0.9 for k in kept))
        failure = failure or res.failure
    return row, kept, failure


def _row_rubric(found: _RowCriteria, name: str, spec: str, source: str, max_criteria: int) -> GeneratedRubric:
    row, kept, failure = found
    if not kept:
        return row, None, failure or "no proposed criterion reproduced the preference"
    return row, Rubric(name=f"{name}_{slug(str(row.id))}", criteria=kept[:max_criteria],
                       provenance=_provenance("contrastive", spec, source, {"row": row.id})), None


def _merged_rubric(results: Sequence[_RowCriteria], name: str, provenance: Mapping[str, object]) -> GeneratedRubric:
    """One rubric for the dataset: every row's kept criteria, near-duplicates once, ids made unique."""
    merged: list[Criterion] = []
    taken: set[str] = set()
    for _, kept, _ in results:
        for c in kept:
            if any(similar_text(c.display_text, m.display_text) > 0.9 for m in merged):
                continue
            merged.append(c.model_copy(update={"id": unique_id(c.cid, taken)}))
    if not merged:
        return None, None, next((f for _, _, f in results if f), "no proposed criterion reproduced a preference")
    return None, Rubric(name=name, criteria=merged, provenance=provenance), None


async def _prompted_rubric(context: JudgeContext, row: DataRow, name: str, spec: str, source: str, max_criteria: int) -> GeneratedRubric:
    try:
        crit = await generate_from_prompts(context, [row], max_criteria=max_criteria)
    except GenerationFailed as exc:
        return row, None, str(exc)
    if not crit:
        return row, None, "the answer held no usable criterion"
    return row, Rubric(name=f"{name}_{slug(str(row.id))}", criteria=crit,
                       provenance=_provenance("from prompt", spec, source, {"row": row.id})), None


async def _sampled_rubric(
    context: JudgeContext, rows: list[DataRow], name: str, provenance: Mapping[str, object], max_criteria: int,
) -> GeneratedRubric:
    try:
        crit = await generate_from_prompts(context, rows, max_criteria=max_criteria)
    except GenerationFailed as exc:
        return None, None, str(exc)
    if not crit:
        return None, None, "the answer held no usable criterion"
    return None, Rubric(name=name, criteria=crit, provenance=provenance), None
