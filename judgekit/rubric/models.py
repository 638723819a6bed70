"""The rubric: a named list of criteria (docs/rubrics-and-formats.md), as frozen pydantic models.

`load_rubric` reads a YAML file and turns every validation problem into an InputError that names
the file, the line, the criterion and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from judgekit.errors import ArgumentError, InputError
from judgekit.rubric.yaml_source import YamlSource, parse_yaml

CriterionKind = Literal["principle", "hard_rule", "check"]
Aggregation = Literal["explicit", "implicit"]
CheckType = Literal[
    "regex",
    "contains",
    "not_contains",
    "max_words",
    "min_words",
    "max_chars",
    "min_chars",
    "json_valid",
    "equals_reference",
    "python",
    "tool_called",
    "tool_args_json_valid",
]
CHECK_TYPES: tuple[str, ...] = CheckType.__args__  # type: ignore[attr-defined]
_ID_PATTERN = re.compile(r"^[a-z0-9_]+$")

# Rubrics-as-Rewards' categories as numbers: its rubric-generation prompt asks for Essential 5,
# Important 3-4, Optional 1-2 and Pitfall -1 or -2; a category stands for the middle of its range.
WEIGHT_CATEGORIES: dict[str, float] = {"essential": 5.0, "important": 3.5, "optional": 1.5, "pitfall": -1.5}


class CheckSpec(BaseModel):
    """A criterion decided by code. `value` is the pattern, substring, limit or `module:function`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: CheckType
    value: Any = None
    ignore_case: bool = False
    _from_data: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _python_shorthand(cls, data: Any) -> Any:
        # `check: {python: "pkg.mod:fn"}` is the same as `{type: python, value: "pkg.mod:fn"}`.
        if isinstance(data, dict) and "python" in data and "type" not in data:
            data = {**data, "type": "python", "value": data["python"]}
            del data["python"]
        return data

    @model_validator(mode="after")
    def _value_fits_type(self) -> CheckSpec:
        needs_int = {"max_words", "min_words", "max_chars", "min_chars"}
        needs_str = {"regex", "contains", "not_contains", "python", "tool_called"}
        if self.type in needs_int and not (isinstance(self.value, int) and not isinstance(self.value, bool)):
            raise ValueError(f"check type '{self.type}' needs an integer 'value'")
        if self.type in needs_str and not (isinstance(self.value, str) and self.value):
            raise ValueError(f"check type '{self.type}' needs a non-empty string 'value'")
        if self.type == "regex":
            import regex  # loaded by a rubric with a regex check only

            try:
                regex.compile(self.value)  # the engine judgekit.rubric.checks runs it with
            except regex.error as exc:
                raise ValueError(f"'value' is not a valid regular expression: {exc}") from None
        if self.type == "python" and ":" not in self.value:
            raise ValueError("check type 'python' needs 'value' of the form module:function")
        return self

    def describe(self) -> str:
        return f"{self.type}" + (f" {self.value!r}" if self.value is not None else "")

    @property
    def from_data(self) -> bool:
        """Whether this check came in a data row's rubric (not a file or object the user gave)."""
        return self._from_data


class Scale(BaseModel):
    """An ordinal criterion: the judge rates it with an integer from `min` to `max` (Likert), and
    the rating counts (rating - min) / (max - min) of the criterion's weight. `labels` name points
    of the scale for the judge (`{1: "not at all", 5: "fully"}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = 1
    max: int = 5
    labels: dict[int, str] = {}

    @model_validator(mode="after")
    def _sane(self) -> Scale:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.max - self.min > 100:
            raise ValueError("a scale has at most 101 points")
        outside = [k for k in self.labels if not self.min <= k <= self.max]
        if outside:
            raise ValueError(f"label {outside[0]} is outside the scale {self.min}..{self.max}")
        return self

    def normalised(self, rating: int) -> float:
        return (rating - self.min) / (self.max - self.min)


# ---- transcripts, named options and worked examples (docs/rubrics-and-formats.md) -------------

View = Literal["last_reply", "assistant", "full"]
VIEWS: tuple[str, ...] = View.__args__  # type: ignore[attr-defined]
MET_WORDS = {"met": True, "unmet": False, "true": True, "false": False}


class Choice(BaseModel):
    """A named option of a multi-choice criterion: the judge answers its `label`; its `value`,
    normalised over the criterion's values, is the criterion's score."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    label: str
    value: float

    @field_validator("label")
    @classmethod
    def _label_shape(cls, value: str) -> str:
        if not value.strip() or value.strip() != value:
            raise ValueError("a choice's label is a non-empty text without leading or trailing spaces")
        if value.lower().replace(" ", "_") in ("not_applicable", "n/a", "na"):
            raise ValueError("'not_applicable' is no choice label: give the criterion 'not_applicable: true'")
        return value


class Example(BaseModel):
    """A worked example shown to the judge: a response, the verdict it deserves and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    response: str | list[dict[str, Any]]
    verdict: bool | int | str
    reason: str = ""


def _example_problem(criterion: Criterion, verdict: bool | int | str) -> str | None:
    """Why `verdict` does not fit `criterion` (MET/UNMET, a rating in its scale, one of its labels), or None."""
    if criterion.not_applicable and verdict == "not_applicable":
        return None
    if criterion.choices is not None:
        labels = [c.label for c in criterion.choices]
        return None if verdict in labels else f"{verdict!r} is not one of the choices {labels}"
    if criterion.scale is not None:
        fits = isinstance(verdict, int) and not isinstance(verdict, bool) and criterion.scale.min <= verdict <= criterion.scale.max
        return None if fits else f"{verdict!r} is not a rating from {criterion.scale.min} to {criterion.scale.max}"
    fits = isinstance(verdict, bool) or (isinstance(verdict, str) and verdict.lower() in MET_WORDS)
    return None if fits else f"{verdict!r} is not MET or UNMET"


class Criterion(BaseModel):
    """One criterion. A negative weight marks a pitfall: MET means the flaw is present.

    `scale` makes it ordinal (a rating instead of MET/UNMET); `not_applicable: true` lets the judge
    answer that it does not apply to this prompt, which takes it out of the reward's denominator."""

    # A weight of nan or inf (YAML's .nan, .inf, 1e400) makes every reward nan: refused here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str | None = None
    text: str | None = None
    kind: CriterionKind = "principle"
    weight: float = 1.0
    tags: tuple[str, ...] = ()
    check: CheckSpec | None = None
    scale: Scale | None = None
    not_applicable: bool = False
    gate: bool = False
    """A check that vetoes the reward when UNMET, as a hard rule does (a hard rule is always a gate)."""
    # named options and worked examples
    choices: tuple[Choice, ...] | None = None
    examples: tuple[Example, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ID_PATTERN.match(value):
            raise ValueError(f"id {value!r} must match [a-z0-9_]+")
        return value

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_category(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        named = WEIGHT_CATEGORIES.get(value.strip().lower())
        if named is not None:
            return named
        try:
            float(value)
        except ValueError:
            raise ValueError(f"weight {value!r} is neither a finite number nor a known category "
                             f"({', '.join(WEIGHT_CATEGORIES)})") from None
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kind_fits(self) -> Criterion:
        if self.kind == "check" and self.check is None:
            raise ValueError("a criterion of kind 'check' needs a 'check' field")
        if self.kind != "check" and self.check is not None:
            raise ValueError(f"'check' is only allowed with kind 'check' (kind is '{self.kind}')")
        if self.kind != "check" and not (self.text and self.text.strip()):
            raise ValueError(f"a criterion of kind '{self.kind}' needs a non-empty 'text'")
        if self.scale is not None and self.kind != "principle":
            raise ValueError(f"'scale' is only allowed with kind 'principle' (kind is '{self.kind}')")
        if self.not_applicable and self.kind == "check":
            raise ValueError("'not_applicable' is not allowed with kind 'check' (a check always applies)")
        if self.gate and self.kind == "principle":
            raise ValueError("'gate' is only allowed with kind 'check' (a hard_rule is always a gate; "
                             "make a model-judged gate a hard_rule)")
        return self

    @model_validator(mode="after")
    def _options_fit(self) -> Criterion:
        if self.choices is not None:
            if self.kind != "principle" or self.scale is not None:
                raise ValueError("'choices' is only allowed with kind 'principle' and no 'scale'")
            labels = [c.label for c in self.choices]
            if len(set(labels)) != len(labels) or len(labels) < 2:
                raise ValueError("'choices' needs at least two options with different labels")
            if len({c.value for c in self.choices}) < 2:
                raise ValueError("'choices' needs at least two different values (the score is the value normalised)")
        if self.examples and self.kind == "check":
            raise ValueError("'examples' is not allowed with kind 'check' (no judge reads them)")
        for number, example in enumerate(self.examples):
            if problem := _example_problem(self, example.verdict):
                raise ValueError(f"'examples[{number}].verdict': {problem}")
        return self

    def choice_score(self, label: str) -> float | None:
        """A chosen label's value normalised into [0, 1] over the criterion's values; None if no such label."""
        assert self.choices is not None
        values = [c.value for c in self.choices]
        low, high = min(values), max(values)
        return next(((c.value - low) / (high - low) for c in self.choices if c.label == label), None)

    @property
    def cid(self) -> str:
        assert self.id is not None, "ids are assigned when the rubric is built"
        return self.id

    @property
    def is_gate(self) -> bool:
        """UNMET vetoes the reward: a hard rule, or a check with `gate: true`."""
        return self.kind == "hard_rule" or self.gate

    @property
    def judged_by_model(self) -> bool:
        return self.kind != "check"

    @property
    def display_text(self) -> str:
        if self.text:
            return self.text
        assert self.check is not None
        return f"[check] {self.check.describe()}"


class Rubric(BaseModel):
    """A rubric: `name`, optional `description` and `version`, and at least one criterion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    version: int | str = 1
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    aggregation: Aggregation = "explicit"
    """explicit: the weighted formula over per-criterion verdicts; implicit (Rubrics-as-Rewards): one
    holistic rating of the principles, checks and hard rules still judged one by one (judging.implicit)."""
    view: View = "last_reply"
    """What of a transcript response the judge sees (judgekit.data.transcript)."""
    provenance: dict[str, Any] | None = None
    """Where the rubric came from (written by `judgekit rubric generate/refine`); not used in scoring."""

    @model_validator(mode="after")
    def _assign_ids(self) -> Rubric:
        seen: dict[str, int] = {}
        fixed: list[Criterion] = []
        for position, criterion in enumerate(self.criteria, start=1):
            cid = criterion.id or f"c{position}"
            if cid in seen:
                raise ValueError(
                    f"duplicate criterion id '{cid}' (criteria {seen[cid]} and {position})"
                )
            seen[cid] = position
            fixed.append(criterion if criterion.id else criterion.model_copy(update={"id": cid}))
        object.__setattr__(self, "criteria", tuple(fixed))
        return self

    @property
    def ids(self) -> list[str]:
        return [c.cid for c in self.criteria]

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)

    @property
    def model_judged(self) -> list[Criterion]:
        return [c for c in self.criteria if c.judged_by_model]

    @property
    def checks(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.judged_by_model]

    def from_data_row(self) -> Rubric:
        """This rubric, marked as carried by a data row: its python checks are never run
        (judgekit.rubric.checks refuses them), whatever --allow-code says."""
        for c in self.checks:
            assert c.check is not None
            c.check._from_data = True
        return self

    def to_yaml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True) | {"name": self.name}


# ---- building from data, with errors that name the place -------------------------------------


def rubric_from_data(
    data: object, *, file: str | None = None, source: YamlSource | None = None, line: int | None = None
) -> Rubric:
    """Validate a rubric object (the YAML's data) or a bare list of criteria."""
    if isinstance(data, list):
        data = {"name": "inline", "criteria": data}
    if not isinstance(data, dict):
        raise InputError("a rubric must be a mapping with 'name' and 'criteria'", file=file, line=line)
    _check_duplicate_ids(data, file=file, source=source, line=line)
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise _located_error(exc, data, file=file, source=source, line=line) from None
    _check_weights(rubric, file=file, source=source, line=line)
    return rubric


def _check_weights(rubric: Rubric, *, file: str | None, source: YamlSource | None, line: int | None) -> None:
    """The rubric's total absolute weight, the reward's denominator, is a finite number above 0.

    Checked where a rubric comes in (a file, a row, a dict), not in the model: judgekit builds
    rubrics of a rubric's hard rules alone, which may all weigh 0."""
    total = 0.0
    for index, c in enumerate(rubric.criteria):
        total += abs(c.weight)
        if not math.isfinite(total):
            raise InputError(f"the criteria's total absolute weight overflows at this weight ({c.weight:g}): "
                             "use smaller weights (only their ratios matter)", file=file,
                             line=_line_in(source, index, "weight") or line, criterion=c.cid, field="weight")
    if total == 0:
        raise InputError("no criterion has a non-zero weight: every reward would be 0/0 (null); "
                         "give at least one criterion a weight", file=file,
                         line=_line_in(source, None, "criteria") or line, field="weight")


def _check_duplicate_ids(
    data: Mapping[str, object], *, file: str | None, source: YamlSource | None, line: int | None,
) -> None:
    criteria = data.get("criteria")
    if not isinstance(criteria, list):
        return
    seen: dict[str, int] = {}
    for index, raw in enumerate(criteria):
        if not isinstance(raw, dict):
            continue
        cid = raw.get("id") or f"c{index + 1}"
        if cid in seen:
            raise InputError(
                f"duplicate criterion id '{cid}' (criteria {seen[cid] + 1} and {index + 1})", file=file,
                line=_line_in(source, index, "id") or line, criterion=str(cid), field="id",
            )
        seen[str(cid)] = index


def _line_in(source: YamlSource | None, index: int | None, field: str | None) -> int | None:
    """The line of a top-level key (`index` None) or of criterion `index`'s field (else its first line)."""
    if source is None:
        return None
    if index is None:
        return source.line_of([field] if field else [])
    if not isinstance(source.data, dict):
        return None  # a file holding a bare list of criteria: the message names the criterion
    return source.line_of(["criteria", index, *([field] if field else [])])


def _located_error(
    exc: ValidationError, data: dict[str, Any], *, file: str | None, source: YamlSource | None, line: int | None
) -> InputError:
    err = exc.errors()[0]
    loc = [p for p in err["loc"]]
    index: int | None = None
    field: str | None = None
    if len(loc) >= 2 and loc[0] == "criteria" and isinstance(loc[1], int):
        index = loc[1]
        field = str(loc[2]) if len(loc) > 2 else None
        if field in ("check", "scale") and len(loc) > 3:
            field = f"{field}.{loc[3]}"
        elif field in ("choices", "examples") and len(loc) > 4:
            field = f"{field}[{loc[3]}].{loc[4]}"
    elif loc:
        field = str(loc[0])
    criterion = None
    if index is not None:
        raw = data.get("criteria", [])[index] if isinstance(data.get("criteria"), list) else None
        criterion = (raw.get("id") if isinstance(raw, dict) else None) or f"c{index + 1}"
    message = _message(err)
    if field is None and "duplicate criterion id" in message:
        field = "id"
    named = re.match(r"'((?:scale|not_applicable|gate|choices|examples)[\w\[\].]*)'", message)
    if field is None and index is not None and named:
        field = named.group(1)
    where_line = _line_in(source, index, re.split(r"[.\[]", field or "")[0] or None) or line
    return InputError(message, file=file, line=where_line, criterion=criterion, field=field)


def _message(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error" and err["loc"][-1] == "type":
        return f"unknown check type {err.get('input')!r}; known types: {', '.join(CHECK_TYPES)}"
    if kind == "literal_error" and err["loc"][-1] == "kind":
        return f"unknown kind {err.get('input')!r}; known kinds: principle, hard_rule, check"
    if kind == "literal_error" and err["loc"][-1] == "aggregation":
        return f"unknown aggregation {err.get('input')!r}; known: explicit, implicit"
    if kind == "finite_number":
        return f"must be a finite number, got {err.get('input')!r}"
    if kind == "too_short" and err["loc"][-1] == "criteria":
        return "a rubric needs at least one criterion"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric YAML file. Raises InputError naming file, line, criterion, field."""
    file = str(path)
    source = parse_yaml(path, what="rubric")
    data = source.data
    if data is None:
        raise InputError("the file is empty", file=file)
    if isinstance(data, dict) and "criteria" in data and not data["criteria"]:
        raise InputError("a rubric needs at least one criterion", file=file, line=_line_in(source, None, "criteria"),
                         field="criteria")
    return rubric_from_data(data, file=file, source=source)


RubricLike = Rubric | str | Path | dict[str, Any] | list[Any]


def as_rubric(rubric: RubricLike, *, call: str | None = None) -> Rubric:
    """A rubric as a Python caller may give it: a Rubric, the path of a rubric YAML file, or the
    YAML's data (a dict, or a list of criteria). Anything else is an InputError naming `call`'s argument."""
    if isinstance(rubric, Rubric):
        return rubric
    if isinstance(rubric, (str, Path)):
        return load_rubric(rubric)
    if isinstance(rubric, (dict, list)):
        try:
            return rubric_from_data(rubric)
        except InputError as exc:  # where in the data, after the argument that holds it
            if call is None:
                raise
            raise ArgumentError(str(exc), field="rubric", call=call) from None
    raise ArgumentError(f"a rubric is a Rubric, a rubric YAML file's path or its data (a dict), not {type(rubric).__name__}",
                        field="rubric", call=call)


def empty_rubric(name: str = "rubric-rm") -> Rubric:
    """A rubric of no criteria: the start when every criterion is written at judging time (rubric-rm,
    pair-adaptive criteria) and no rubric is given."""
    return Rubric.model_construct(name=name, description="", version=1, criteria=(), provenance=None)
