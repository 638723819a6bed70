"""Criteria written per pair at judging time, pair-adaptive (OpenRS PAMR): before two responses are
compared (a pair, or a pair of a group: judging.judgment), the judge writes the criteria that
separate them, under a meta-rubric (judgekit.rubric.meta); those criteria are then judged one by
one in both orders like any rubric's, and recorded in the output row.

One extra call per pair (cached like every generation). A written criterion is dropped when its
category is unknown, when it names a response by position ("Response A", "the second one": it
could not be judged in the swapped order) or when it repeats a criterion already present.
"""

from __future__ import annotations

import re
from typing import Any

from judgekit.data.rows import as_messages, message_text
from judgekit.jsonvalue import JSONValue
from judgekit.judging.context import JudgeContext
from judgekit.judging.pairwise import PairItem
from judgekit.judging.writing import GenerationFailed, echo_problem, generate_json, similar_text
from judgekit.protocol.templates import FENCE, data_nonce, mask_model_names, render
from judgekit.rubric.ids import slug, unique_id
from judgekit.rubric.meta import MetaRubric
from judgekit.rubric.models import Criterion, Rubric

ID_PREFIX = "pa"
_POSITIONAL = re.compile(
    r"\b(?:response|answer|assistant|output)\s*(?:[ab12]|one|two)\b|\b(?:first|second|former|latter|other)\s+(?:response|answer|one)\b",
    re.I,
)


def adaptive_schema(meta: MetaRubric) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": [c.id for c in meta.categories]},
            "text": {"type": "string"},
        },
        "required": ["category", "text"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"criteria": {"type": "array", "items": item, "minItems": meta.min_criteria,
                                    "maxItems": meta.max_criteria}},
        "required": ["criteria"],
        "additionalProperties": False,
    }


def adaptive_messages(meta: MetaRubric, item: PairItem, fixed: Rubric | None, *, mask_names: bool) -> list[dict[str, str]]:
    a, b = message_text(item.response_a), message_text(item.response_b)
    if mask_names:
        a, b = mask_model_names(a), mask_model_names(b)
    reference = message_text(item.reference) if item.reference is not None else None
    prompt_messages = as_messages(item.prompt)
    tag = data_nonce(prompt_messages, a, b, reference)
    system = render("adaptive_criteria_system.j2", fence=FENCE, rules=meta.rules,
                    categories=[c.model_dump() for c in meta.categories],
                    min_criteria=meta.min_criteria, max_criteria=meta.max_criteria)
    user = render("adaptive_criteria_user.j2", fence=FENCE, nonce=tag, prompt_messages=prompt_messages,
                  response_a=a, response_b=b, reference=reference,
                  fixed=[c.display_text for c in fixed.model_judged] if fixed else [])
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _items(obj: object) -> list[dict[str, Any]]:
    items = obj.get("criteria") if isinstance(obj, dict) else obj
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def answer_problems(meta: MetaRubric, obj: object) -> list[str]:
    items = _items(obj)
    if not items:
        return ["the JSON object has no 'criteria' list"]
    if echo := echo_problem(items):
        return echo
    known = {c.id for c in meta.categories}
    if not any(i.get("category") in known and str(i.get("text") or "").strip() for i in items):
        return [f"no criterion has a known category ({', '.join(sorted(known))}) and a text"]
    return []


def instantiate(meta: MetaRubric, obj: object, fixed: Rubric | None) -> tuple[list[Criterion], list[dict[str, Any]]]:
    """The usable criteria of an answer, and the record of every proposal (kept or why dropped)."""
    taken = set(fixed.ids) if fixed else set()
    seen = [c.display_text for c in fixed.criteria] if fixed else []
    kept: list[Criterion] = []
    record: list[dict[str, Any]] = []
    for raw in _items(obj):
        text = str(raw.get("text") or "").strip()
        category = meta.category(str(raw.get("category") or ""))
        entry: dict[str, Any] = {"text": text, "category": raw.get("category")}
        if category is None or not text:
            entry["dropped"] = "unknown category" if category is None else "empty text"
        elif _POSITIONAL.search(text):
            entry["dropped"] = "names a response by its position"
        elif any(similar_text(text, t) > 0.9 for t in seen):
            entry["dropped"] = "repeats a criterion already present"
        elif len(kept) >= meta.max_criteria:
            entry["dropped"] = f"more than max_criteria ({meta.max_criteria})"
        else:
            words = " ".join(re.sub(r"^the response\s+", "", text, flags=re.I).split()[:5])
            cid = unique_id(f"{ID_PREFIX}_{slug(words, 36)}", taken)
            weight = category.weight if category.kind == "principle" else 1.0
            kept.append(Criterion(id=cid, text=text, kind=category.kind, weight=weight, tags=[category.id]))
            entry.update(id=cid, kind=category.kind, weight=weight)
            seen.append(text)
        record.append(entry)
    return kept, record


async def with_pair_criteria(
    context: JudgeContext, meta: MetaRubric, rubric: Rubric | None, item: PairItem
) -> tuple[Rubric | None, list[dict[str, JSONValue]]]:
    """The rubric plus the criteria written for this pair (None if there is neither), and the
    record for the output row. A failed writing step leaves the rubric as given and says why."""
    messages = adaptive_messages(meta, item, rubric, mask_names=context.config.mask_names)
    try:
        obj = await generate_json(context, messages, adaptive_schema(meta),
                                  validate=lambda o: answer_problems(meta, o), runner=context.generator)
    except GenerationFailed as exc:
        return rubric, [{"error": f"writing pair criteria failed: {exc}"}]
    kept, record = instantiate(meta, obj, rubric)
    if not kept:
        return rubric, record
    base = rubric.criteria if rubric else ()
    # The given rubric's every setting (view, aggregation) kept; validated again, ids checked unique.
    merged = Rubric(**{**dict(rubric), "criteria": (*base, *kept)}) if rubric else Rubric(
        name=meta.name, description=meta.description, criteria=tuple(kept))
    return merged, record
