"""Output JSONL: rows written the moment they finish, in input order at the end, resumable.

To a file, a finished row is appended and flushed at once (finish order), so a killed run keeps
every row it finished; when the run ends the file is rewritten in input order (atomically). To
stdout (`-o -`), rows are released in input order as soon as all earlier rows are done.
On --resume, a torn last line (a run killed mid-write) is cut off, and the rows already present
are skipped; a row id the input does not have means the file is not this input's output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

from judgekit.errors import InputError
from judgekit.secrets import redact_tree


def id_key(row_id: Any) -> str:
    return json.dumps(row_id)


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(redact_tree(obj), ensure_ascii=False, allow_nan=False)


class RowSink(Protocol):
    def write(self, index: int, obj: dict[str, Any]) -> None: ...
    def finish(self, order: list[Any]) -> None: ...


class FileSink:
    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO = path.open("a" if append else "w", encoding="utf-8")

    def write(self, index: int, obj: dict[str, Any]) -> None:
        self._fh.write(dumps(obj) + "\n")
        self._fh.flush()

    def finish(self, order: list[Any]) -> None:
        """Rewrite the file in input order (ids are unique), atomically."""
        self._fh.close()
        by_id: dict[str, str] = {}
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    by_id.setdefault(id_key(json.loads(line)["id"]), line if line.endswith("\n") else line + "\n")
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for row_id in order:
                line = by_id.get(id_key(row_id))
                if line is not None:
                    out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


class StdoutSink:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._ready: dict[int, dict[str, Any]] = {}
        self._next = 0

    def write(self, index: int, obj: dict[str, Any]) -> None:
        self._ready[index] = obj
        while self._next in self._ready:
            self._stream.write(dumps(self._ready.pop(self._next)) + "\n")
            self._stream.flush()
            self._next += 1

    def finish(self, order: list[Any]) -> None:
        self._stream.flush()

    def close(self) -> None:
        return None


def rows_already_done(path: Path, input_ids: set[str]) -> set[str]:
    """Ids of rows already in an output file; cuts off a torn tail left by a killed run."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    done: set[str] = set()
    good_end = 0
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        if newline == -1:
            break  # the last line has no newline: torn
        line = data[pos:newline]
        if line.strip():
            try:
                obj = json.loads(line)
                key = id_key(obj["id"])
            except (ValueError, KeyError, TypeError):
                break  # torn or foreign line: keep what came before, re-judge the rest
            if key not in input_ids:
                raise InputError(
                    f"row id {obj['id']!r} is not in the input; this output file belongs to another input",
                    file=str(path), field="id",
                )
            if key in done:
                break
            done.add(key)
        pos = newline + 1
        good_end = pos
    if good_end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return done
