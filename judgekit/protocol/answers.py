"""Reading a judge's answer in its native format: one verdict from a regex or a JSON path.

Profiles other than `judgekit` ask one criterion per call and let the judge answer as it was
trained to (`<answer>[[A]]</answer>`, `[RESULT] 4`, `Yes`). The parser finds the verdict after
any thinking, maps it through the profile's `values`, and refuses rather than guesses: no match,
an unknown value or two different answers are a ParseProblem (re-asked, then unscored with the
reason), never a default verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from judgekit.protocol.wire import PLAIN, Mode, ParseProblem, Value, VerdictForm, WireVerdict, extract_json_object, verdict_value

_THINK_OPEN = re.compile(r"<think>", re.I)
_THINK_CLOSE = re.compile(r"</think>", re.I)
_MAX_REASONING = 4000


class AnswerParser(BaseModel):
    """How a profile's answer is read. `json_verdicts`: judgekit's wire schema (judgekit.protocol.wire).
    `regex`: a pattern with a named group `verdict` (and optionally `reasoning`). `json_path`: the
    verdict at a path like `$.verdict` or `result.winner[0]` in the answer's JSON object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["json_verdicts", "regex", "json_path"]
    pattern: str | None = None
    path: str | None = None
    reasoning_path: str | None = None
    values: dict[str, bool | str] = {}
    ignore_case: bool = True
    ratings: bool = False
    """The verdict is a number (`[RESULT] 4`): a criterion with a scale takes it as its rating,
    a plain criterion maps it through `values`. Without it, the profile cannot rate."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if "verdict" not in compiled.groupindex:
            raise ValueError("the pattern needs a named group (?P<verdict>...)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> AnswerParser:
        if self.type == "regex" and not self.pattern:
            raise ValueError("a regex parser needs 'pattern'")
        if self.type == "json_path" and not self.path:
            raise ValueError("a json_path parser needs 'path'")
        if self.type != "json_verdicts" and not self.values:
            raise ValueError("a regex or json_path parser needs 'values' (answer text -> verdict)")
        return self

    def check_values(self, mode: Mode) -> None:
        allowed: tuple[Any, ...] = (True, False) if mode == "pointwise" else ("A", "B", "tie")
        for key, value in self.values.items():
            if isinstance(value, bool) != (mode == "pointwise") or value not in allowed:
                want = "true or false" if mode == "pointwise" else "A, B or tie"
                raise ValueError(f"values: {key!r} maps to {value!r}; a {mode} verdict is {want}")

    def lookup(self, raw: str) -> Value | None:
        key = raw.strip()
        for k, v in self.values.items():
            if (k.lower() == key.lower()) if self.ignore_case else (k == key):
                return v
        return None


def answer_region(text: str) -> tuple[int, str]:
    """(offset, text) of the part of a reply after its thinking. A reply still inside an
    unclosed <think> block has no answer yet."""
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        start = closes[-1].end()
        return start, text[start:]
    if _THINK_OPEN.search(text):
        raise ParseProblem("the reply ended inside its <think> block, before any answer "
                           "(raise --max-tokens, or use --two-phase)")
    return 0, text


def regex_matches(parser: AnswerParser, region: str) -> list[re.Match[str]]:
    flags = re.S | (re.I if parser.ignore_case else 0)
    return list(re.finditer(parser.pattern or "", region, flags))


def parse_native(
    text: str, parser: AnswerParser, mode: Mode, cid: str, answer_format: str, form: VerdictForm = PLAIN,
) -> WireVerdict:
    """One verdict for criterion `cid` from a native answer. Raises ParseProblem."""
    if parser.type == "json_path":
        return _parse_json_path(text, parser, cid)
    lookup = parser.lookup if form.scale is None else _rating_lookup(mode, form)
    _, region = answer_region(text)
    matches = regex_matches(parser, region)
    if not matches:
        hint = f" (expected {answer_format})" if answer_format else ""
        raise ParseProblem(f"no final answer found{hint}")
    verdicts = []
    for m in matches:
        value = lookup(m.group("verdict") or "")
        if value is None:
            known = ", ".join(parser.values) if form.scale is None else f"the integers {form.scale[0]} to {form.scale[1]}"
            raise ParseProblem(f"answer {m.group('verdict')!r} is not one of: {known}")
        verdicts.append(value)
    if len(set(verdicts)) > 1:
        raise ParseProblem("conflicting final answers: " + ", ".join(repr(m.group("verdict")) for m in matches))
    last = matches[-1]
    if "reasoning" in last.re.groupindex and last.group("reasoning"):
        reasoning = last.group("reasoning")
    else:
        reasoning = region[: matches[0].start()]
    return WireVerdict(cid, reasoning.strip()[-_MAX_REASONING:], verdicts[-1])


def _rating_lookup(mode: Mode, form: VerdictForm) -> Callable[[str], Value | None]:
    return lambda raw: verdict_value(raw, mode, form)


def json_path_get(obj: object, path: str) -> object:
    """The value at `$.a.b[0]` / `a.b.0` in obj, or KeyError."""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path.removeprefix("$")) if p]
    for part in parts:
        if isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            raise KeyError(path)
    return obj


def _parse_json_path(text: str, parser: AnswerParser, cid: str) -> WireVerdict:
    _, region = answer_region(text)
    obj = extract_json_object(region)
    try:
        raw = json_path_get(obj, parser.path or "")
    except KeyError:
        raise ParseProblem(f"the JSON answer has nothing at {parser.path}") from None
    value = parser.lookup(str(raw).lower() if isinstance(raw, bool) else str(raw))
    if value is None:
        raise ParseProblem(f"answer {raw!r} at {parser.path} is not one of: {', '.join(parser.values)}")
    reasoning = ""
    if parser.reasoning_path:
        try:
            reasoning = str(json_path_get(obj, parser.reasoning_path))
        except KeyError:
            reasoning = ""
    return WireVerdict(cid, reasoning[:_MAX_REASONING], value)
