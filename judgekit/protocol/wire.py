"""The judge's wire schema (docs/rubrics-and-formats.md): the JSON schema asked for, and tolerant parsing.

pointwise: {"verdicts": [{"criterion_id": ID, "reasoning": STR, "met": BOOL}]}
pairwise:  {"verdicts": [{"criterion_id": ID, "reasoning": STR, "preference": "A"|"B"|"tie"}]}

A criterion with a scale is rated instead (`"score": INT` from its min to its max), one with named
options answers one of their labels (`"choice": LABEL`, an enum of the labels); one that allows
it may be answered "not_applicable" in place of its verdict. A call mixing such criteria asks for
each item by its id (`anyOf`); a call of plain criteria asks for exactly the schema above.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from judgekit.jsonvalue import JSONObject, JSONValue
from judgekit.llm.base import Mode
from judgekit.rubric.models import Criterion

NOT_APPLICABLE = "not_applicable"
# met (pointwise), a rating (pointwise, a criterion with a scale), a choice's label (pointwise, a
# criterion with choices), a preference (pairwise), or NOT_APPLICABLE (a criterion that allows it)
Value = bool | int | str


@dataclass(frozen=True)
class VerdictForm:
    """The answers one criterion allows: MET/UNMET (or A/B/tie) by default, a rating from `scale`,
    and "not_applicable" when `not_applicable`."""

    scale: tuple[int, int] | None = None
    not_applicable: bool = False
    choices: tuple[str, ...] | None = None  # the labels of a criterion's named options

    @classmethod
    def of(cls, criterion: Criterion) -> VerdictForm:
        scale = (criterion.scale.min, criterion.scale.max) if criterion.scale is not None else None
        labels = tuple(c.label for c in criterion.choices) if criterion.choices is not None else None
        return cls(scale, criterion.not_applicable, labels)

    @staticmethod
    def is_plain(criterion: Criterion) -> bool:
        """Whether `criterion`'s form is PLAIN, without building it (this runs for every criterion of
        every call)."""
        return criterion.scale is None and not criterion.not_applicable and criterion.choices is None


PLAIN = VerdictForm()
# Verdict forms by criterion id; an id not in it is PLAIN.
Forms = Mapping[str, VerdictForm]


def forms_of(criteria: list[Criterion]) -> dict[str, VerdictForm]:
    """The non-plain forms among `criteria` (empty for a rubric of plain criteria)."""
    return {c.cid: VerdictForm.of(c) for c in criteria if not VerdictForm.is_plain(c)}


def verdict_key(mode: Mode, form: VerdictForm) -> str:
    """The field that carries the verdict: `met`, `score` (a rating) or `preference`."""
    if mode == "pairwise":
        return "preference"
    if form.choices is not None:
        return "choice"
    return "score" if form.scale is not None else "met"


def _verdict_field(mode: Mode, form: VerdictForm) -> dict[str, Any]:
    na = [NOT_APPLICABLE] if form.not_applicable else []
    if mode == "pairwise":
        return {"type": "string", "enum": ["A", "B", "tie", *na]}
    if form.choices is not None:
        return {"type": "string", "enum": [*form.choices, *na]}
    if form.scale is not None:
        ratings: list[Any] = list(range(form.scale[0], form.scale[1] + 1))
        return {"enum": [*ratings, *na]} if na else {"type": "integer", "enum": ratings}
    return {"enum": [True, False, *na]} if na else {"type": "boolean"}


def _item(mode: Mode, ids: list[str], form: VerdictForm) -> dict[str, Any]:
    name = verdict_key(mode, form)
    return {
        "type": "object",
        "properties": {
            "criterion_id": {"type": "string", "enum": list(ids)},
            "reasoning": {"type": "string"},
            name: _verdict_field(mode, form),
        },
        "required": ["criterion_id", "reasoning", name],
        "additionalProperties": False,
    }


def verdict_schema(mode: Mode, ids: list[str], forms: Forms | None = None) -> dict[str, Any]:
    """The JSON schema for one call. `criterion_id` is an enum of exactly the ids asked for;
    `reasoning` comes before the verdict so the model reasons first."""
    by_form: dict[VerdictForm, list[str]] = {}
    for cid in ids:
        by_form.setdefault((forms or {}).get(cid, PLAIN), []).append(cid)
    items = [_item(mode, group, form) for form, group in by_form.items()]
    return {
        "type": "object",
        "properties": {"verdicts": {"type": "array", "items": items[0] if len(items) == 1 else {"anyOf": items}}},
        "required": ["verdicts"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class WireVerdict:
    criterion_id: str
    reasoning: str
    value: Value


class ParseProblem(ValueError):
    """The reply could not be read as the schema asks."""


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCED = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)


def extract_json_object(text: str) -> dict[str, JSONValue]:
    """The last fenced JSON object in the text, else the last bare one. Raises ParseProblem."""
    if "```" not in text and not _THINK.search(text):
        # A reply that is one JSON object and nothing else (what a schema-constrained judge sends),
        # read at once: the search below would find that same object, at several times the cost.
        try:
            whole = json.loads(text)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            return whole
    text = _THINK.sub("", text)
    for block in reversed(_FENCED.findall(text)):
        try:
            obj = json.loads(block.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    decoder = json.JSONDecoder()
    last: dict[str, JSONValue] | None = None
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            last = obj
        pos = text.find("{", end)
    if last is None:
        raise ParseProblem("the reply holds no JSON object")
    return last


def parse_verdicts(
    payload: str | JSONObject, mode: Mode, ids: list[str], forms: Forms | None = None,
) -> tuple[dict[str, WireVerdict], list[str]]:
    """Valid verdicts by criterion id, and the problems found with the rest.

    A verdict is kept only if it names an id asked for and carries a verdict of the right type;
    the first verdict for an id wins. Missing ids are left to the caller (re-ask, then unscored).
    """
    obj = extract_json_object(payload) if isinstance(payload, str) else payload
    items = obj.get("verdicts")
    if isinstance(obj.get("criterion_id"), str):  # a single verdict object without the wrapper
        items = [obj]
    if not isinstance(items, list):
        raise ParseProblem("the JSON object has no 'verdicts' list")
    wanted = set(ids)
    found: dict[str, WireVerdict] = {}
    problems: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            problems.append("a verdict is not an object")
            continue
        cid = item.get("criterion_id")
        if cid not in wanted:
            problems.append(f"unknown criterion_id {cid!r}")
            continue
        form = (forms or {}).get(cid, PLAIN)
        key = verdict_key(mode, form)
        value = verdict_value(item.get(key), mode, form)
        if value is None:
            problems.append(f"criterion {cid}: '{key}' is {item.get(key)!r}")
            continue
        reasoning = item.get("reasoning")
        found.setdefault(cid, WireVerdict(cid, reasoning if isinstance(reasoning, str) else "", value))
    return found, problems


def verdict_value(raw: object, mode: Mode, form: VerdictForm = PLAIN) -> Value | None:
    """The verdict `raw` stands for under `form`, read tolerantly ("true", "4", "N/A"), or None."""
    if form.not_applicable and isinstance(raw, str) and raw.strip().lower().replace(" ", "_") in _NA_SPELLINGS:
        return NOT_APPLICABLE
    if mode == "pairwise":
        if isinstance(raw, str):
            norm = raw.strip()
            if norm in {"A", "B"}:
                return norm
            if norm.lower() == "tie":
                return "tie"
        return None
    if form.choices is not None:
        return _label(raw, form.choices)
    if form.scale is not None:
        return _rating(raw, form.scale)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
        return raw.strip().lower() == "true"
    return None


_NA_SPELLINGS = {NOT_APPLICABLE, "n/a", "na"}


def _label(raw: object, labels: tuple[str, ...]) -> str | None:
    """One of `labels` as written, or the one label it matches but for case and spaces; None for any
    other answer (a label the judge made up is never mapped to a near one)."""
    if not isinstance(raw, str):
        return None
    if raw in labels:
        return raw
    loose = [label for label in labels if label.casefold() == raw.strip().casefold()]
    return loose[0] if len(loose) == 1 else None


def _rating(raw: object, scale: tuple[int, int]) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int) and scale[0] <= raw <= scale[1]:
        return raw
    return None
