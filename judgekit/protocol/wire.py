"""The judge's wire schema (docs/rubrics-and-formats.md): the JSON schema asked for, and tolerant parsing.

pointwise: {"verdicts": [{"criterion_id": ID, "reasoning": STR, "met": BOOL}]}
pairwise:  {"verdicts": [{"criterion_id": ID, "reasoning": STR, "preference": "A"|"B"|"tie"}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from judgekit.llm.base import Mode


def verdict_schema(mode: Mode, ids: list[str]) -> dict[str, Any]:
    """The JSON schema for one call. `criterion_id` is an enum of exactly the ids asked for;
    `reasoning` comes before the verdict so the model reasons first."""
    verdict_field: dict[str, Any]
    if mode == "pointwise":
        name, verdict_field = "met", {"type": "boolean"}
    else:
        name, verdict_field = "preference", {"type": "string", "enum": ["A", "B", "tie"]}
    item = {
        "type": "object",
        "properties": {
            "criterion_id": {"type": "string", "enum": list(ids)},
            "reasoning": {"type": "string"},
            name: verdict_field,
        },
        "required": ["criterion_id", "reasoning", name],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"verdicts": {"type": "array", "items": item}},
        "required": ["verdicts"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class WireVerdict:
    criterion_id: str
    reasoning: str
    value: bool | str  # met (pointwise) or preference (pairwise)


class ParseProblem(ValueError):
    """The reply could not be read as the schema asks."""


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCED = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)


def extract_json_object(text: str) -> dict[str, Any]:
    """The last fenced JSON object in the text, else the last bare one. Raises ParseProblem."""
    text = _THINK.sub("", text)
    for block in reversed(_FENCED.findall(text)):
        try:
            obj = json.loads(block.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    decoder = json.JSONDecoder()
    last: dict[str, Any] | None = None
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


def parse_verdicts(payload: str | dict[str, Any], mode: Mode, ids: list[str]) -> tuple[dict[str, WireVerdict], list[str]]:
    """Valid verdicts by criterion id, and the problems found with the rest.

    A verdict is kept only if it names an id asked for and carries a verdict of the right type;
    the first verdict for an id wins. Missing ids are left to the caller (re-ask, then unscored).
    """
    obj = payload if isinstance(payload, dict) else extract_json_object(payload)
    items = obj.get("verdicts")
    if isinstance(obj.get("criterion_id"), str):  # a single verdict object without the wrapper
        items = [obj]
    if not isinstance(items, list):
        raise ParseProblem("the JSON object has no 'verdicts' list")
    key = "met" if mode == "pointwise" else "preference"
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
        value = _verdict_value(item.get(key), mode)
        if value is None:
            problems.append(f"criterion {cid}: '{key}' is {item.get(key)!r}")
            continue
        reasoning = item.get("reasoning")
        found.setdefault(cid, WireVerdict(cid, reasoning if isinstance(reasoning, str) else "", value))
    return found, problems


def _verdict_value(raw: Any, mode: Mode) -> bool | str | None:
    if mode == "pointwise":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
            return raw.strip().lower() == "true"
        return None
    if isinstance(raw, str):
        norm = raw.strip()
        if norm in {"A", "B"}:
            return norm
        if norm.lower() == "tie":
            return "tie"
    return None
