"""Programmatic `check` criteria: decided by code, no model call.

`regex` checks run on the `regex` package (re-compatible syntax) with a time limit per check: a
pattern that backtracks catastrophically on a response (e.g. `^(a+)+$` on 'aaaa...!') is unscored
with the reason instead of hanging the run. `python` checks run only from a rubric the user gave
(a file on the command line, a Rubric object in Python) with --allow-code; never from a data row's.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judgekit.rubric.models import CheckSpec, Criterion

REGEX_TIMEOUT_S = 1.0
"""Seconds one regex check may take on one response before it is unscored."""


@dataclass(frozen=True)
class CheckOutcome:
    score: int | None  # 1 MET, 0 UNMET, None unscored
    reason: str | None = None


def _words(text: str) -> int:
    return len(text.split())


def _contains(text: str, needle: str, ignore_case: bool) -> bool:
    return needle.lower() in text.lower() if ignore_case else needle in text


def _json_valid(text: str) -> bool:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.S)
    try:
        json.loads(fenced.group(1) if fenced else body)
    except ValueError:
        return False
    return True


def _normalise(text: str, ignore_case: bool) -> str:
    text = " ".join(text.split())
    return text.lower() if ignore_case else text


def _load_python_check(target: str) -> Callable[..., Any]:
    module_name, _, func_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, func_name)


def run_check(
    criterion: Criterion,
    response: str,
    *,
    reference: str | None = None,
    row: Mapping[str, object] | None = None,
    allow_code: bool = False,
    tool_calls: Sequence[tuple[str, bool]] = (),
) -> CheckOutcome:
    """`tool_calls`: the response's tool calls as (function name, whether its arguments are a JSON
    object), for the checks on them (judgekit.data.transcript finds them)."""
    spec: CheckSpec = criterion.check  # type: ignore[assignment]
    kind, value, icase = spec.type, spec.value, spec.ignore_case
    if kind == "regex":
        return _regex(value, response, icase)
    if kind == "contains":
        return _bool(_contains(response, value, icase))
    if kind == "not_contains":
        return _bool(not _contains(response, value, icase))
    if kind == "max_words":
        return _bool(_words(response) <= value)
    if kind == "min_words":
        return _bool(_words(response) >= value)
    if kind == "max_chars":
        return _bool(len(response) <= value)
    if kind == "min_chars":
        return _bool(len(response) >= value)
    if kind == "json_valid":
        return _bool(_json_valid(response))
    if kind == "equals_reference":
        if reference is None:
            return CheckOutcome(None, "the row has no reference to compare with")
        return _bool(_normalise(response, icase) == _normalise(reference, icase))
    if kind == "tool_called":
        return _bool(any(name == value for name, _ in tool_calls))
    if kind == "tool_args_json_valid":  # every call's arguments; a response without calls meets it
        return _bool(all(valid for _, valid in tool_calls))
    if kind == "python":
        if spec.from_data:
            return CheckOutcome(None, "python checks are not run from data rows (only from a rubric the user gives, "
                                      "with --allow-code)")
        if not allow_code:
            return CheckOutcome(None, "python checks run only with --allow-code (allow_code=True)")
        try:
            result = _load_python_check(value)(response, row or {})
        except Exception as exc:  # user code: any failure is that criterion's, not the run's
            return CheckOutcome(None, f"python check {value} failed: {type(exc).__name__}: {exc}")
        if result is None:
            return CheckOutcome(None, f"python check {value} returned None")
        return _bool(bool(result))
    return CheckOutcome(None, f"unknown check type {kind!r}")


def _regex(pattern: str, response: str, ignore_case: bool) -> CheckOutcome:
    import regex  # loaded by the first regex check, not with every rubric

    try:
        found = regex.search(pattern, response, regex.I if ignore_case else 0, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return CheckOutcome(None, f"regex check stopped after {REGEX_TIMEOUT_S:g}s: the pattern backtracks too much "
                                  "on this response")
    return _bool(found is not None)


def _bool(ok: bool) -> CheckOutcome:
    return CheckOutcome(1 if ok else 0)
