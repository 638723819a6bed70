"""Rows: field names (and their aliases), pair labels and chat-message text, and the two row types
built from records (judgekit.data.reader): InputRow, a row to judge (read from a file or given in
Python), and DataRow, a prompt with candidate responses and labelled pairs (rubric generate/refine)."""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from judgekit.data.reader import JsonRecord, records
from judgekit.data.transcript import CHAT_ROLES, Text, as_text, content_text, message_text, transcript_problem
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue
from judgekit.rubric.formats import row_rubric
from judgekit.rubric.models import Rubric

RowId = str | int  # a row's id: a file's rows are checked to have one of these

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


def pair_label(value: object) -> str | None:
    """A | B | tie for a label as given (also LLMBar's 1 | 2, JudgeBench's A>B | B>A | A=B); None if unknown."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return PAIR_LABELS.get(str(value))


def as_messages(prompt: object) -> list[dict[str, str]]:
    """A prompt as a list of {role, content} with text content. A role outside CHAT_ROLES is bad
    input (it reaches the judge's prompt, where a made-up role could pose as judgekit's own text)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if problem := role_problem(prompt):
        raise InputError(problem[1], field=f"prompt{problem[0]}")
    if isinstance(prompt, dict):
        return [{"role": str(prompt.get("role", "user")), "content": content_text(prompt.get("content"))}]
    if isinstance(prompt, list):
        return [
            {"role": str(m.get("role", "user")), "content": content_text(m.get("content"))}
            for m in prompt
            if isinstance(m, dict)
        ]
    return [{"role": "user", "content": "" if prompt is None else str(prompt)}]


def role_problem(prompt: object) -> tuple[str, str] | None:
    """(where in the prompt, why) for the first message whose role is not a chat role, or None."""
    messages = [(f"[{i}]", m) for i, m in enumerate(prompt)] if isinstance(prompt, list) else [("", prompt)]
    for where, m in messages:
        if isinstance(m, dict) and "role" in m and m["role"] not in CHAT_ROLES:
            shown = repr(m["role"]) if len(repr(m["role"])) <= 40 else repr(m["role"])[:37] + "..."
            return f"{where}.role", f"unknown role {shown}; a message's role is one of {', '.join(CHAT_ROLES)}"
    return None


def pick(data: Mapping[str, object], name: str, mapping: Mapping[str, str]) -> tuple[str | None, Any]:
    """The (source key, value) for a canonical field, honouring a user remap first."""
    if name in mapping:
        key = mapping[name]
        return (key, data[key]) if key in data else (None, None)
    for key in ALIASES.get(name, (name,)):
        if key in data:
            return key, data[key]
    return None, None


def missing_field(name: str, mapping: Mapping[str, str] | None = None) -> str:
    """The message for a required field a row lacks, naming every key looked for."""
    names = (mapping or {}).get(name) or " / ".join(ALIASES.get(name, (name,)))
    return f"required field is missing (looked for {names})"


def _given_id(rec: JsonRecord, mapping: Mapping[str, str]) -> JSONValue:
    """The row's id, or its record number when it has none."""
    _, row_id = pick(rec.obj, "id", mapping)
    return rec.number if row_id is None else row_id


def _row_id(rec: JsonRecord, mapping: Mapping[str, str], rules: _RowRules) -> RowId:
    """The row's id, checked to be a string or an integer in a file's rows."""
    row_id = _given_id(rec, mapping)
    if isinstance(row_id, (str, int)) and not isinstance(row_id, bool):
        return row_id
    if rules.checked_ids:
        raise InputError("'id' must be a string or an integer", file=rules.file, line=rec.line, field="id")
    # Rows given in Python keep any id they have (their result row is where an id is checked).
    return row_id  # type: ignore[return-value]


# ---- rows to judge ------------------------------------------------------------------------------


@dataclass
class InputRow:
    """One row of an input file, with the fields a command needs resolved by name."""

    index: int  # 0-based position among the file's rows
    line: int  # 1-based line in the file
    id: RowId
    data: dict[str, JSONValue]
    fields: dict[str, JSONValue] = field(default_factory=dict)  # as given (`as_text`: a prompt or response as judged)
    rubric: Rubric | None = None
    problem: str | None = None  # why the row cannot be judged: it is written without a reward, the run goes on

    def text(self, name: str) -> Text:
        """A field as it is judged: the prompt or a response (`as_text`)."""
        return as_text(self.fields[name])

    def reference(self) -> Text | None:
        """The reference as it is judged, if the row has one."""
        value = self.fields.get("reference")
        return None if value is None else as_text(value)


@dataclass(frozen=True)
class _RowRules:
    """What differs between a file's rows and rows given in Python. A file's rows are named by file
    and line in errors, have no null required field, and have unique string or integer ids (--resume
    matches rows by id). Rows given in Python may hold nulls (a null optional field is left out) and
    repeat ids."""

    file: str | None
    null_fields: bool = False
    checked_ids: bool = True


_PYTHON_ROWS = _RowRules(file=None, null_fields=True, checked_ids=False)

RowCheck = Callable[[InputRow], None]  # a command's own check of a row: raises InputError, may normalise fields


@dataclass
class FileRows:
    """The rows of an input (a JSONL or JSON-array file, a Parquet file, a saved or hub dataset), read
    anew on each pass so that no pass holds them: `validate()` reads every row once before any judging,
    so bad input fails fast (exit 2), and keeps a digest of the input's content on the way (`content`,
    which the run record holds, see judgekit.data.runrecord); iterating yields them one at a time. A
    row that cannot be encoded is kept with its `problem`: it becomes an output row without a reward."""

    source: str | Path
    required: tuple[str, ...]
    optional: tuple[str, ...] = ("reference",)
    mapping: Mapping[str, str] = field(default_factory=dict)
    split: str | None = None
    check: RowCheck | None = None
    limit: int | None = None
    """Only the first `limit` rows are read and judged (`--limit`); the ids go on (`id_keys`), so --resume
    can tell an output of a run with a larger limit."""
    content: str | None = field(default=None, init=False, compare=False)
    """The sha256 of the records read by `validate()` (None before it)."""

    @property
    def file(self) -> str:
        return str(self.source)

    def __iter__(self) -> Iterator[InputRow]:
        return self.rows()

    def rows(self, start: int = 0) -> Iterator[InputRow]:
        """The rows from 0-based position `start` on (those before it are read, not built)."""
        return (row for _, row in self._read(start))

    def _read(self, start: int = 0) -> Iterator[tuple[JsonRecord, InputRow]]:
        rules = _RowRules(file=self.file)
        for index, rec in enumerate(records(self.source, split=self.split)):
            if self.limit is not None and index >= self.limit:
                return
            if index >= start:
                yield rec, self._row(rec, index, rules)

    def _row(self, rec: JsonRecord, index: int, rules: _RowRules) -> InputRow:
        row = _make_row(rec, index, rules, self.required, self.optional, self.mapping)
        row.problem = unencodable_field(rec.obj)
        if self.check is not None:
            self.check(row)
        return row

    def validate(self) -> int:
        """Read and check every row; ids must be unique (kept as 8-byte hashes, not as rows). The row count.
        The records' content is hashed on the way, one at a time (`content`): every record of the input,
        those past `limit` included, so a run continued with another --limit keeps its record."""
        hashes = IdHashes()
        content = hashlib.sha256()
        rules = _RowRules(file=self.file)
        for index, rec in enumerate(records(self.source, split=self.split)):
            content.update(_canonical(rec.obj))
            if self.limit is None or index < self.limit:
                hashes.add(id_key(self._row(rec, index, rules).id))
        twice = hashes.repeated()
        if twice:
            self._raise_duplicate(twice)
        self.content = "sha256:" + content.hexdigest()[:32]
        return len(hashes)

    def id_keys(self) -> Iterator[str]:
        """The rows' id keys in input order, without building the rows."""
        return (id_key(_given_id(rec, self.mapping)) for rec in records(self.source, split=self.split))

    def _raise_duplicate(self, hashes: set[int]) -> None:
        """A second pass over the rows whose id hash repeats: the exact duplicate, named by its lines (two
        different ids with one hash are no error)."""
        first_line_of: dict[str, int] = {}
        for rec in records(self.source, split=self.split):
            row_id = _given_id(rec, self.mapping)
            key = id_key(row_id)
            if _id_hash(key) not in hashes:
                continue
            if key in first_line_of:
                raise InputError(f"duplicate id {row_id!r} (first at line {first_line_of[key]}); ids must be unique "
                                 "so --resume can match rows", file=self.file, line=rec.line, field="id")
            first_line_of[key] = rec.line


def content_digest(source: str | Path, split: str | None = None) -> str:
    """The digest of an input's records that `FileRows.validate` keeps (`content`), read one at a time."""
    content = hashlib.sha256()
    for rec in records(source, split=split):
        content.update(_canonical(rec.obj))
    return "sha256:" + content.hexdigest()[:32]


def _canonical(obj: object) -> bytes:
    """A record as one line of canonical JSON (sorted keys; a value JSON has no type for, from Parquet, as text)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode("ascii") + b"\n"


def id_key(row_id: object) -> str:
    """The text that identifies a row id (1 and "1" differ)."""
    return json.dumps(row_id)


def id_hash(row_id: object) -> int:
    """A row id's 64-bit hash: 8 bytes that stand for the id where a million ids are kept."""
    return _id_hash(id_key(row_id))


def _id_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


_SORTED_IN_PYTHON = 100_000  # ids: sorted as Python ints in a few tens of milliseconds, with no numpy import


class IdHashes:
    """A compact multiset of row ids: 8 bytes each (an id's 64-bit hash), for checking that a million ids
    are unique without holding them."""

    def __init__(self) -> None:
        self._hashes = array("Q")

    def add(self, key: str) -> None:
        self._hashes.append(_id_hash(key))

    def __len__(self) -> int:
        return len(self._hashes)

    def repeated(self) -> set[int]:
        """The hashes seen more than once (the hashes are sorted in place to find them)."""
        if len(self._hashes) < 2:
            return set()
        if len(self._hashes) <= _SORTED_IN_PYTHON:  # importing numpy costs more than sorting these
            ordered = sorted(self._hashes)
            return {a for a, b in pairwise(ordered) if a == b}
        import numpy as np  # loaded only for many ids to compare: not for the command line's start-up

        view = np.frombuffer(self._hashes, dtype=np.uint64)
        view.sort()
        twice = {int(h) for h in view[1:][view[1:] == view[:-1]]}
        del view  # the array may grow again once no view holds its buffer
        return twice


def read_jsonl(
    path: str | Path,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = ("reference",),
    mapping: Mapping[str, str] | None = None,
    split: str | None = None,
) -> list[InputRow]:
    """Every row of an input as a list, read and checked before it is returned (see `FileRows`, which
    reads an input of any size without holding it)."""
    rows = FileRows(path, required, optional, dict(mapping or {}), split)
    rows.validate()
    return list(rows)


def to_input_rows(rows: Iterable[Mapping[str, object] | InputRow], required: tuple[str, ...]) -> list[InputRow]:
    """Rows given in Python (an InputRow passes through as it is). A row without an id gets its
    0-based position."""
    out: list[InputRow] = []
    for index, row in enumerate(rows):
        if isinstance(row, InputRow):
            out.append(row)
            continue
        rec = JsonRecord(line=index + 1, number=index, obj=dict(row))
        out.append(_make_row(rec, index, _PYTHON_ROWS, required, ("reference",), {}))
    return out


def unencodable_field(obj: Mapping[str, object]) -> str | None:
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
    rules: _RowRules,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    mapping: Mapping[str, str],
) -> InputRow:
    fields: dict[str, JSONValue] = {}
    for name in required:
        key, value = pick(rec.obj, name, mapping)
        if key is None or (value is None and not rules.null_fields):
            raise _missing(name, rec, index, rules, mapping)
        fields[name] = value
    for name in optional:
        key, value = pick(rec.obj, name, mapping)
        if key is not None and (value is not None or not rules.null_fields):
            fields[name] = value
    if problem := role_problem(fields.get("prompt")):
        key, _ = pick(rec.obj, "prompt", mapping)
        raise InputError(problem[1], file=rules.file, line=rec.line if rules.file else None, field=f"{key}{problem[0]}")
    _check_transcripts(fields, rec, rules, mapping)
    row_id = _row_id(rec, mapping, rules)
    rubric_value = {"rubric": rec.obj.get(mapping["rubric"])} if "rubric" in mapping else rec.obj
    rubric = row_rubric(rubric_value, file=rules.file, line=rec.line)
    return InputRow(index=index, line=rec.line, id=row_id, data=rec.obj, fields=fields, rubric=rubric)


def _check_transcripts(fields: Mapping[str, object], rec: JsonRecord, rules: _RowRules, mapping: Mapping[str, str]) -> None:
    """A response given as chat messages: no unknown role, no tool result without its call."""
    for name in ("response", "response_a", "response_b", "responses"):
        value = fields.get(name)
        each = list(enumerate(value)) if name == "responses" and isinstance(value, list) else [(None, value)]
        for position, response in each:
            if isinstance(response, (list, dict)) and (problem := transcript_problem(response)):
                key, _ = pick(rec.obj, name, mapping)
                where = f"{key}{'' if position is None else f'[{position}]'}{problem[0]}"
                raise InputError(problem[1], file=rules.file, line=rec.line if rules.file else None, field=where)


def _missing(name: str, rec: JsonRecord, index: int, rules: _RowRules, mapping: Mapping[str, str]) -> InputError:
    if rules.file is None:
        return InputError(f"row {index} has no '{name}' field", field=name)
    return InputError(f"{missing_field(name, mapping)}{_layout_hint(rec.obj)}", file=rules.file, line=rec.line,
                      field=name)


def _layout_hint(obj: Mapping[str, object]) -> str:
    """For a row in a public layout that `judgekit eval` reads (and these commands do not): which --format."""
    if "chosen" in obj and "rejected" in obj:
        return "; rows with chosen/rejected dialogues (HH-RLHF's layout) are read by `judgekit eval --format hh-rlhf`"
    return ""


# ---- rows for rubric authoring: a prompt, candidate responses, labelled pairs -------------------


@dataclass
class DataRow:
    """One prompt with its candidate responses; `pairs` are (chosen, rejected) indexes into them."""

    line: int
    id: JSONValue  # as the row gives it (or its line): rubric data's ids are not checked
    prompt: JSONValue  # a string or chat messages, as the row gives it (`as_text`: as the judge is shown it)
    reference: str | None = None
    responses: list[str] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    data: dict[str, JSONValue] = field(default_factory=dict)

    def add(self, text: str) -> int:
        if text in self.responses:
            return self.responses.index(text)
        self.responses.append(text)
        return len(self.responses) - 1


def read_data(
    path: str | Path, *, limit: int | None = None, need_responses: bool = False, need_pairs: bool = False,
    split: str | None = None,
) -> list[DataRow]:
    """Rows with a prompt and, as available, responses (list or single) and labelled pairs:
    chosen/rejected, LLMBar input/output_1/output_2/label, or response_a/response_b/label.
    The whole file is read (and checked) even when `limit` keeps fewer rows."""
    path = Path(path)
    file = str(path)
    rows: list[DataRow] = []
    for rec in list(records(path, split=split, what="data")):
        if limit is not None and len(rows) >= limit:
            break
        row = _data_row(rec, file)
        if need_pairs and not row.pairs:
            raise InputError("the row has no labelled pair (chosen/rejected, or output_1/output_2 with label)",
                             file=file, line=row.line, field="chosen")
        if need_responses and not row.responses:
            raise InputError("the row has no responses (responses, chosen/rejected, output_1/output_2 or response)",
                             file=file, line=row.line, field="responses")
        rows.append(row)
    if not rows:
        raise InputError("the data file has no rows", file=file)
    return rows


def _data_row(rec: JsonRecord, file: str) -> DataRow:
    obj, line = rec.obj, rec.line
    key, prompt = pick(obj, "prompt", {})
    if key is None or prompt in (None, ""):
        raise InputError(missing_field("prompt"), file=file, line=line, field="prompt")
    if problem := role_problem(prompt):
        raise InputError(problem[1], file=file, line=line, field=f"{key}{problem[0]}")
    _, reference = pick(obj, "reference", {})
    row = DataRow(line=line, id=_given_id(rec, {}), prompt=prompt,
                  reference=message_text(reference) if reference is not None else None, data=obj)
    responses = obj.get("responses", obj.get("completions"))
    if responses is not None:
        if not isinstance(responses, list):
            raise InputError("'responses' must be a list", file=file, line=line, field="responses")
        for r in responses:
            row.add(message_text(r))
    if "chosen" in obj or "rejected" in obj:
        _add_chosen_rejected(row, obj, file)
    else:
        _add_labelled_pair(row, obj, file)
    if "response" in obj and obj["response"] is not None:
        row.add(message_text(obj["response"]))
    return row


def _add_chosen_rejected(row: DataRow, obj: Mapping[str, object], file: str) -> None:
    for name in ("chosen", "rejected"):
        if not message_text(obj.get(name)).strip():
            raise InputError("a pair needs both 'chosen' and 'rejected' (non-empty)", file=file, line=row.line,
                             field=name)
    row.pairs.append((row.add(message_text(obj["chosen"])), row.add(message_text(obj["rejected"]))))


def _add_labelled_pair(row: DataRow, obj: Mapping[str, object], file: str) -> None:
    """output_1/output_2 (or response_a/response_b) as responses, and as a pair when a label prefers one."""
    ka, a = pick(obj, "response_a", {})
    kb, b = pick(obj, "response_b", {})
    if ka is None and kb is None:
        return
    if ka is None or kb is None:
        raise InputError("a pair needs both responses (output_1/output_2 or response_a/response_b)",
                         file=file, line=row.line, field="response_b" if kb is None else "response_a")
    ia, ib = row.add(message_text(a)), row.add(message_text(b))
    if "label" not in obj:
        return
    try:
        side = _label_side(obj["label"])
    except ValueError as exc:
        raise InputError(str(exc), file=file, line=row.line, field="label") from None
    if side is not None and ia != ib:
        row.pairs.append((ia, ib) if side == "a" else (ib, ia))


def _label_side(label: object) -> str | None:
    """'a' / 'b' for the preferred one of a labelled pair (LLMBar 1|2, A|B), None for a tie."""
    if isinstance(label, bool):
        return None
    if isinstance(label, (int, float)) and label in (1, 2):
        return "a" if label == 1 else "b"
    if isinstance(label, str):
        norm = label.strip().lower()
        if norm in {"a", "1", "response_a", "output_1"}:
            return "a"
        if norm in {"b", "2", "response_b", "output_2"}:
            return "b"
        if norm == "tie":
            return None
    raise ValueError(f"label {label!r} is not 1, 2, A, B or tie")
