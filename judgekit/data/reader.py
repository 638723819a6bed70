"""Reading records: the objects of a JSONL file (gzipped if it ends in .gz) or of a file holding one
JSON array of objects, each with the line it starts on; the rows of a Parquet file, of a Hugging Face
`datasets` dataset saved with `save_to_disk`, or of a hub dataset by name (extra `[datasets]`), each
with its 1-based row number in place of a line; whole JSON files; UTF-8 text. Every error is an
InputError naming the file and line (or row). Records are read one at a time (Parquet and datasets in
batches), so nothing here holds a whole input. What the fields mean is judgekit.data.rows' business.
"""

from __future__ import annotations

import datetime
import decimal
import gzip
import importlib
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue

if TYPE_CHECKING:
    import datasets

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
    line_no = 0
    with opened as fh:
        try:
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
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise _bad_gzip(exc, file, line_no + 1) from None


def _bad_gzip(exc: Exception, file: str, line: int) -> InputError:
    if isinstance(exc, EOFError):
        why = "the gzip file ends before its data does (cut short while written or copied?); write it again"
    elif isinstance(exc, gzip.BadGzipFile):
        why = "not a gzip file, though its name ends in .gz; compress it with gzip or drop the .gz"
    else:
        why = f"a corrupt gzip file ({exc}); write it again"
    return InputError(why, file=file, line=line if line > 1 else None)


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


def _json_object(text: str, file: str, line_no: int, *, first: bool = False) -> dict[str, JSONValue]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if first and text.strip() == "{":
            hint = ("; one JSON object over several lines is neither JSONL nor a JSON array "
                    "(EvalBiasBench's file is read by `judgekit eval --format evalbiasbench`)")
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}){hint}", file=file, line=line_no) from None
    except (ValueError, RecursionError) as exc:
        raise _unreadable_json(exc, file, line_no) from None
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
        except (ValueError, RecursionError) as exc:
            raise _unreadable_json(exc, file, line_at(pos)) from None
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


def load_json(path: Path) -> JSONValue:
    """A whole JSON file of any shape (the public data sets that are not lists of records)."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise _unreadable_json(exc, str(path), None) from None


def _unreadable_json(exc: ValueError | RecursionError, file: str, line: int | None) -> InputError:
    """Valid JSON that Python will not read: a number of too many digits, or values nested too deeply."""
    if isinstance(exc, RecursionError):
        return InputError("JSON nested too deeply to read", file=file, line=line)
    return InputError(f"a number of more than {sys.get_int_max_str_digits()} digits; write it as a string",
                      file=file, line=line)


# ---- tables: Parquet files and Hugging Face datasets ------------------------------------------------

JSON_SUFFIXES = (".jsonl", ".json", ".gz", ".ndjson")
_BATCH = 512  # rows per batch read from a table


def records(source: str | Path, *, split: str | None = None, what: str = "input") -> Iterator[JsonRecord]:
    """The records of an input, whatever it is: a JSONL / JSON-array file (see `json_records`), a Parquet
    file, a folder written by `datasets`' `save_to_disk`, or (not a path) a Hugging Face hub dataset name.
    `split` picks a split of a dataset that has several; a source without splits refuses it."""
    path = Path(source)
    file = str(source)
    if path.is_dir():
        return _table_records(_disk_dataset(path, split), file)
    if path.is_file():
        if split is not None:
            raise InputError("--split picks a split of a dataset folder or a hub dataset; this is one file",
                             file=file, field="--split")
        return _parquet_records(path) if path.suffix == ".parquet" else json_records(path)
    if not _hub_name(file):
        raise InputError(f"{what} file not found", file=file)
    return _table_records(_hub_dataset(file, split), file)


def is_table(source: str | Path) -> bool:
    """Whether `records` reads `source` as a table (Parquet, a saved dataset, a hub name), not as JSON text."""
    path = Path(source)
    if path.is_dir():
        return _dataset_folder_kind(path) is not None
    return path.suffix == ".parquet" or (not path.exists() and _hub_name(str(source)))


def _hub_name(name: str) -> bool:
    """A name that is no file here may be a hub dataset's ("owner/name"), unless it looks like a path."""
    path = Path(name)
    return bool(name) and path.suffix not in (*JSON_SUFFIXES, ".parquet") and not path.is_absolute() and not name.startswith(".")


def _parquet_records(path: Path) -> Iterator[JsonRecord]:
    pq = _import("pyarrow.parquet", "pyarrow", str(path))
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=_BATCH)
        rows = (row for batch in batches for row in batch.to_pylist())
        yield from _numbered(rows, str(path))
    except (OSError, ValueError) as exc:  # pyarrow: ArrowIOError is an OSError, ArrowInvalid a ValueError
        raise InputError(f"not a readable Parquet file ({exc})", file=str(path)) from None


def _table_records(dataset: datasets.Dataset, file: str) -> Iterator[JsonRecord]:
    rows = (dict(zip(batch, values)) for batch in dataset.iter(batch_size=_BATCH) for values in zip(*batch.values()))
    return _numbered(rows, file)


def _numbered(rows: Iterable[dict[str, Any]], file: str) -> Iterator[JsonRecord]:
    for number, row in enumerate(rows, start=1):
        yield JsonRecord(number, number, _json_values(row, file, number))


def _json_values(row: Mapping[str, object], file: str, number: int) -> dict[str, JSONValue]:
    """The row with every value as JSON has it (a date as ISO text, a decimal as a float); a value JSON
    cannot hold (bytes, an image) is an InputError naming the row and column."""
    out: dict[str, JSONValue] = {}
    for key, value in row.items():
        if value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
            continue
        try:
            out[key] = json.loads(json.dumps(value, default=_json_default, allow_nan=True))
        except (TypeError, ValueError):
            raise InputError(f"row {number}: a {type(value).__name__} value cannot be read as JSON text",
                             file=file, line=number, field=str(key)) from None
    return out


def _json_default(value: object) -> object:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def _dataset_folder_kind(path: Path) -> str | None:
    if (path / "dataset_dict.json").is_file():
        return "splits"
    if (path / "state.json").is_file():
        return "dataset"
    return None


def _disk_dataset(path: Path, split: str | None) -> datasets.Dataset:
    kind = _dataset_folder_kind(path)
    if kind is None:
        raise InputError("a folder is read only as a dataset saved with datasets' save_to_disk "
                         "(it has no state.json or dataset_dict.json)", file=str(path))
    lib = _import("datasets", "datasets", str(path))
    loaded = lib.load_from_disk(str(path))
    if kind == "dataset":
        if split is not None and str(loaded.split) != split:
            raise InputError(f"this dataset has one split ({loaded.split}); --split {split} is not it",
                             file=str(path), field="--split")
        return loaded
    return loaded[_pick_split(list(loaded), split, str(path))]


def _hub_dataset(name: str, split: str | None) -> datasets.Dataset:
    """A hub dataset's split, downloaded once into the Hugging Face cache and read from there (memory-mapped),
    so that the checking pass and the judging pass do not fetch it twice."""
    lib = _import("datasets", "datasets", name, hint="no such file; a hub dataset name is read with")
    try:
        if split is None:
            split = _pick_split(list(lib.get_dataset_split_names(name)), None, name)
        return lib.load_dataset(name, split=split)
    except InputError:
        raise
    except Exception as exc:  # no network, no such dataset, a gated one: the hub's reason, shown as is
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"neither a file nor a hub dataset that could be loaded ({type(exc).__name__}: {reason})",
                         file=name) from None


def _pick_split(splits: list[str], split: str | None, file: str) -> str:
    if split is None:
        if len(splits) == 1:
            return splits[0]
        raise InputError(f"the dataset has several splits ({', '.join(splits)}); choose one with --split", file=file,
                         field="--split")
    if split not in splits:
        raise InputError(f"no split {split!r}; the dataset has {', '.join(splits)}", file=file, field="--split")
    return split


def _import(module: str, package: str, file: str, *, hint: str = "reading this input needs") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{hint} the `{package}` package: pip install 'judgekit[datasets]'", file=file) from None
