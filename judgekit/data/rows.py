"""Input rows: reading JSONL (or a JSON array), field names (and their aliases), pair labels, chat-message text."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from judgekit.errors import InputError
from judgekit.rubric.models import Rubric
from judgekit.rubric.formats import row_rubric

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

# A pair's label as the public datasets write it -> A | B | tie.
JUDGEBENCH_LABELS = {"A>B": "A", "A>>B": "A", "B>A": "B", "B>>A": "B", "A=B": "tie"}
PAIR_LABELS = {"A": "A", "B": "B", "tie": "tie", "1": "A", "2": "B", **JUDGEBENCH_LABELS}  # 1 | 2: LLMBar's


def pair_label(value: Any) -> str | None:
    """A | B | tie for a label as given (also LLMBar's 1 | 2, JudgeBench's A>B | B>A | A=B); None if unknown."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return PAIR_LABELS.get(str(value))


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
    problem: str | None = None  # why the row cannot be judged: it is written without a reward, the run goes on


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
    """Read and validate every row before any judging starts, so bad input fails fast (exit 2).
    A row that cannot be encoded is kept with its `problem`: it becomes an output row without a reward."""
    mapping = dict(mapping or {})
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("input file not found", file=file)
    rows: list[InputRow] = []
    first_line_of: dict[str, int] = {}
    for rec in json_records(path):
        row = _make_row(rec, len(rows), file, required, optional, mapping, first_line_of)
        row.problem = unencodable_field(rec.obj)
        rows.append(row)
    return rows


_SPACE = re.compile(r"[ \t\r\n]*")


class JsonRecord(NamedTuple):
    line: int  # 1-based line where the object starts
    number: int  # the row's default id: its line in JSONL, its 1-based position in a JSON array
    obj: dict[str, Any]


def json_records(path: Path) -> Iterator[JsonRecord]:
    """The objects of a JSONL file (gzipped if it ends in .gz), or of a file holding one JSON array of
    objects (LLMBar's layout); blank lines are skipped."""
    file = str(path)
    opened = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    with opened as fh:
        first = True
        for line_no, raw in enumerate(fh, start=1):
            text = decode_utf8(raw, file, line_no)
            if not text.strip():
                continue
            if first and text.lstrip().startswith("["):
                yield from _array_records(text + decode_utf8(fh.read(), file, line_no + 1), file, line_no)
                return
            yield JsonRecord(line_no, line_no, _json_object(text, file, line_no, first=first))
            first = False


def decode_utf8(data: bytes, file: str, first_line: int = 1) -> str:
    """UTF-8 text (a leading byte-order mark dropped); otherwise an InputError naming the line."""
    try:
        return data.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save the file as UTF-8",
                         file=file, line=line) from None


def read_text(path: Path) -> str:
    """A whole UTF-8 text file; a byte that is not UTF-8 is an InputError naming its line."""
    return decode_utf8(path.read_bytes(), str(path))


def _json_object(text: str, file: str, line_no: int, *, first: bool = False) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if first and text.strip() == "{":
            hint = ("; one JSON object over several lines is neither JSONL nor a JSON array "
                    "(EvalBiasBench's file is read by `judgekit eval --format evalbiasbench`)")
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}){hint}", file=file, line=line_no) from None
    if not isinstance(obj, dict):
        raise InputError("each line must be a JSON object", file=file, line=line_no)
    return obj


def _array_records(text: str, file: str, first_line: int) -> Iterator[JsonRecord]:
    """The objects of one JSON array, each with the line it starts on (for messages naming the place)."""
    decoder = json.JSONDecoder()
    seen = [0, first_line]  # lines are counted once, up to the last position asked about

    def line_at(at: int) -> int:
        seen[1] += text.count("\n", seen[0], at)
        seen[0] = at
        return seen[1]

    def skip(at: int) -> int:
        space = _SPACE.match(text, at)
        return space.end() if space else at

    pos, number = skip(text.index("[") + 1), 0
    while pos < len(text) and text[pos] != "]":
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", file=file, line=line_at(exc.pos)) from None
        number += 1
        if not isinstance(obj, dict):
            raise InputError(f"entry {number} of the array is not a JSON object", file=file, line=line_at(pos))
        yield JsonRecord(line_at(pos), number, obj)
        pos = skip(end)
        if text[pos:pos + 1] == ",":
            pos = skip(pos + 1)
        elif text[pos:pos + 1] != "]":
            raise InputError("not valid JSON (expected ',' or ']' in the array)", file=file, line=line_at(pos))
    if pos >= len(text) or text[pos + 1:].strip():
        raise InputError("not valid JSON (the array is not closed, or text follows it)", file=file, line=line_at(pos))


def unencodable_field(obj: Mapping[str, Any]) -> str | None:
    """Why a row cannot be sent to a judge or written out (a lone surrogate such as "\\ud800"), or None."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    for key, value in obj.items():
        try:
            json.dumps({key: value}, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start:exc.end].encode("utf-8", "backslashreplace").decode("ascii")
            return f"field '{key}' cannot be encoded as UTF-8 (lone surrogate {bad})"
    return "the row cannot be encoded as UTF-8"


def _make_row(
    rec: JsonRecord,
    index: int,
    file: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    mapping: Mapping[str, str],
    first_line_of: dict[str, int],
) -> InputRow:
    obj, line_no = rec.obj, rec.line
    fields: dict[str, Any] = {}
    for name in required:
        key, value = pick(obj, name, mapping)
        if key is None or value is None:
            names = mapping.get(name) or " / ".join(ALIASES.get(name, (name,)))
            raise InputError(f"required field is missing (looked for {names}){_layout_hint(obj)}",
                             file=file, line=line_no, field=name)
        fields[name] = value
    for name in optional:
        key, value = pick(obj, name, mapping)
        if key is not None:
            fields[name] = value
    _, row_id = pick(obj, "id", mapping)
    if row_id is None:
        row_id = rec.number
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


def _layout_hint(obj: Mapping[str, Any]) -> str:
    """For a row in a public layout that `judgekit eval` reads (and these commands do not): which --format."""
    if "chosen" in obj and "rejected" in obj:
        return "; rows with chosen/rejected dialogues (HH-RLHF's layout) are read by `judgekit eval --format hh-rlhf`"
    return ""
