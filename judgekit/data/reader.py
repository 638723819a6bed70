"""Reading records: the objects of a JSONL file (gzipped if it ends in .gz) or of a file holding one
JSON array of objects, each with the line it starts on; whole JSON files; UTF-8 text. Every error is
an InputError naming the file and line. What the fields mean is judgekit.data.rows' business.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from judgekit.errors import InputError

_SPACE = re.compile(r"[ \t\r\n]*")


class JsonRecord(NamedTuple):
    line: int  # 1-based line where the object starts
    number: int  # the row's default id: its line in JSONL, its 1-based position in a JSON array
    obj: dict[str, Any]


def json_records(path: Path) -> Iterator[JsonRecord]:
    """The objects of a JSONL file (gzipped if it ends in .gz), or of a file holding one JSON array of
    objects (LLMBar's layout); blank lines are skipped."""
    file = str(path)
    opened = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115 (closed by the with below)
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


def load_json(path: Path) -> Any:
    """A whole JSON file of any shape (the public data sets that are not lists of records)."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
