"""Input rows: reading JSONL, field names (and their aliases), chat-message text."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from judgekit.errors import InputError
from judgekit.rubric import Rubric
from judgekit.rubric_formats import row_rubric

# Canonical field -> accepted names, first match wins. JudgeBench's and LLMBar's names included.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "pair_id", "question_id", "uid"),
    "prompt": ("prompt", "input", "question", "instruction", "query"),
    "response": ("response", "completion", "output", "answer"),
    "response_a": ("response_a", "response_A", "output_1", "response1"),
    "response_b": ("response_b", "response_B", "output_2", "response2"),
    "responses": ("responses", "completions"),
    "reference": ("reference", "reference_answer", "ground_truth"),
    "label": ("label",),
}


def message_text(value: Any) -> str:
    """The text of a string, one chat message, or a list of messages (assistant turns if any)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _content_text(value.get("content", ""))
    if isinstance(value, list):
        messages = [m for m in value if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        chosen = assistant or messages
        return "\n\n".join(_content_text(m.get("content", "")) for m in chosen)
    return str(value)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def as_messages(prompt: Any) -> list[dict[str, str]]:
    """A prompt as a list of {role, content} with text content."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, dict):
        return [{"role": str(prompt.get("role", "user")), "content": _content_text(prompt.get("content"))}]
    if isinstance(prompt, list):
        return [
            {"role": str(m.get("role", "user")), "content": _content_text(m.get("content"))}
            for m in prompt
            if isinstance(m, dict)
        ]
    return [{"role": "user", "content": "" if prompt is None else str(prompt)}]


@dataclass
class InputRow:
    """One row of an input file, with the fields a command needs resolved by name."""

    index: int  # 0-based position among the file's rows
    line: int  # 1-based line in the file
    id: Any
    data: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    rubric: Rubric | None = None


def pick(data: Mapping[str, Any], name: str, mapping: Mapping[str, str]) -> tuple[str | None, Any]:
    """The (source key, value) for a canonical field, honouring a user remap first."""
    if name in mapping:
        key = mapping[name]
        return (key, data[key]) if key in data else (None, None)
    for key in ALIASES.get(name, (name,)):
        if key in data:
            return key, data[key]
    return None, None


def read_jsonl(
    path: str | Path,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = ("reference",),
    mapping: Mapping[str, str] | None = None,
) -> list[InputRow]:
    """Read and validate every row before any judging starts, so bad input fails fast (exit 2)."""
    mapping = dict(mapping or {})
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("input file not found", file=file)
    rows: list[InputRow] = []
    first_line_of: dict[str, int] = {}
    for line_no, obj in json_lines(path):
        rows.append(_make_row(obj, len(rows), line_no, file, required, optional, mapping, first_line_of))
    return rows


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file (gzipped if it ends in .gz)."""
    opened = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open("r", encoding="utf-8")
    with opened as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=str(path), line=line_no) from None
            if not isinstance(obj, dict):
                raise InputError("each line must be a JSON object", file=str(path), line=line_no)
            yield line_no, obj


def _make_row(
    obj: dict[str, Any],
    index: int,
    line_no: int,
    file: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    mapping: Mapping[str, str],
    first_line_of: dict[str, int],
) -> InputRow:
    fields: dict[str, Any] = {}
    for name in required:
        key, value = pick(obj, name, mapping)
        if key is None or value is None:
            names = mapping.get(name) or " / ".join(ALIASES.get(name, (name,)))
            raise InputError(f"required field is missing (looked for {names})", file=file, line=line_no, field=name)
        fields[name] = value
    for name in optional:
        key, value = pick(obj, name, mapping)
        if key is not None:
            fields[name] = value
    _, row_id = pick(obj, "id", mapping)
    if row_id is None:
        row_id = line_no
    if not isinstance(row_id, (str, int)) or isinstance(row_id, bool):
        raise InputError("'id' must be a string or an integer", file=file, line=line_no, field="id")
    key = json.dumps(row_id)
    if key in first_line_of:
        raise InputError(
            f"duplicate id {row_id!r} (first at line {first_line_of[key]}); ids must be unique so --resume can match rows",
            file=file, line=line_no, field="id",
        )
    first_line_of[key] = line_no
    rubric_value = dict(obj)
    if "rubric" in mapping:
        rubric_value = {"rubric": obj.get(mapping["rubric"])}
    rubric = row_rubric(rubric_value, file=file, line=line_no)
    return InputRow(index=index, line=line_no, id=row_id, data=obj, fields=fields, rubric=rubric)
