"""Per-row rubrics: judgekit's own object or list, and the public formats of other projects.

- judgekit: `rubric: {name, criteria: [...]}` or `rubric: [criterion, ...]`
- HealthBench: `rubrics: [{criterion, points, tags}]`
- Rubrics-as-Rewards: `rubric: [{title, description, weight}]`
- Prometheus / BiGGen-Bench: `score_rubric: {criteria, score1_description .. score5_description}`
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from judgekit.errors import InputError
from judgekit.rubric.models import Rubric, empty_rubric, rubric_from_data


def from_healthbench(items: list[dict[str, Any]], name: str = "healthbench") -> Rubric:
    criteria = []
    for item in items:
        tags = item.get("tags") or []
        criteria.append({"text": item["criterion"], "weight": item.get("points", 1), "tags": list(tags)})
    return rubric_from_data({"name": name, "criteria": criteria})


def from_rubrics_as_rewards(items: Sequence[Mapping[str, object]], name: str = "rar") -> Rubric:
    criteria = []
    for item in items:
        title = str(item.get("title", "")).strip()
        criteria.append(
            {"text": item["description"], "weight": item.get("weight", 1), "tags": [title] if title else []}
        )
    return rubric_from_data({"name": name, "criteria": criteria})


def from_prometheus(score_rubric: Mapping[str, object], name: str = "prometheus") -> Rubric:
    """A 1-5 score rubric as what it is: one criterion rated 1 to 5, the five descriptions its labels.

    The reward, (rating - 1) / 4, maps level 1..5 onto 0, .25, .5, .75, 1; one call per response,
    and the prometheus2 profile asks it in Prometheus' own format.
    """
    question = str(score_rubric.get("criteria", "")).strip()
    labels = {}
    for level in range(1, 6):
        desc = str(score_rubric.get(f"score{level}_description", "")).strip()
        if not desc:
            raise ValueError(f"score_rubric has no score{level}_description")
        labels[level] = desc
    criterion = {"id": "score_rubric", "text": question, "tags": ["prometheus"],
                 "scale": {"min": 1, "max": 5, "labels": labels}}
    return rubric_from_data({"name": name, "criteria": [criterion]})


def _is_rar_list(items: list[object]) -> bool:
    return bool(items) and all(
        isinstance(i, dict) and "description" in i and "text" not in i for i in items
    )


ROW_RUBRIC_FIELDS = ("rubric", "rubrics", "score_rubric")


def row_rubric(row: Mapping[str, object], *, file: str | None = None, line: int | None = None) -> Rubric | None:
    """The rubric a row carries, in any of the formats above (a field holding it as a JSON string,
    as dataset columns often do, is decoded first), or None. It is marked as data
    (`Rubric.from_data_row`): data never runs code."""
    fields = {k: _maybe_json(row[k]) for k in ROW_RUBRIC_FIELDS if k in row}
    found = _read_row_rubric(fields, file=file, line=line)
    return found.from_data_row() if found is not None else None


def rubric_for(own: Rubric | None, given: Rubric | None, *, optional: bool = False, line: int | None = None,
               given_to: str = "") -> Rubric:
    """The rubric a row is judged with: its own (`row_rubric`), else the one given; a row with
    neither is bad input, unless criteria are written at judging time (`optional`: then none yet)."""
    effective = own or given
    if effective is None and optional:
        return empty_rubric()
    if effective is None:
        raise InputError(f"the row has no rubric and none was given{given_to}", line=line, field="rubric")
    return effective


def _maybe_json(value: object) -> object:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _read_row_rubric(row: Mapping[str, object], *, file: str | None, line: int | None) -> Rubric | None:
    try:
        if "rubric" in row and row["rubric"] is not None:
            value = row["rubric"]
            if isinstance(value, list) and _is_rar_list(value):
                return from_rubrics_as_rewards(value)
            return rubric_from_data(value, file=file, line=line)
        rubrics, score_rubric = row.get("rubrics"), row.get("score_rubric")
        if isinstance(rubrics, list) and rubrics:
            return from_healthbench(rubrics)
        if isinstance(score_rubric, dict):
            return from_prometheus(score_rubric)
    except InputError as exc:
        raise InputError(exc.message, file=file, line=line, criterion=exc.criterion,
                         field=f"rubric.{exc.field}" if exc.field else "rubric") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"cannot read the row's rubric: {exc}", file=file, line=line, field="rubric") from None
    return None
