"""Output JSONL: rows written the moment they finish, in input order at the end, resumable.

To a file, a finished row is appended and flushed at once (finish order), so a killed run keeps
every row it finished; when the run ends the file is rewritten in input order (atomically). To
stdout (`-o -`), rows are released in input order as soon as all earlier rows are done.
On --resume, a torn last line (a run killed mid-write) is cut off, and the rows already present
are skipped; a row id the input does not have means the file is not this input's output.

The input is never written: an output that is the input file (same path, a symlink or a hard link
to it) is refused before anything is opened for writing. A run holds an exclusive lock (flock) on
the output file itself from opening to closing it, so a second run writing the same file is refused
instead of interleaving its rows.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, TextIO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the other guarantees hold
    fcntl = None  # type: ignore[assignment]

from judgekit.errors import InputError
from judgekit.secrets import redact_tree


def id_key(row_id: Any) -> str:
    return json.dumps(row_id)


def dumps(obj: dict[str, Any]) -> str:
    text = json.dumps(obj := redact_tree(obj), ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from the input) is kept as its \u escape
        return json.dumps(obj, ensure_ascii=True, allow_nan=False)
    return text


class RowSink(Protocol):
    def write(self, index: int, obj: dict[str, Any]) -> None: ...
    def finish(self, order: list[Any]) -> None: ...
    def close(self) -> None: ...


class FileSink:
    """Appends rows to an output file it holds locked (see `open_file_sink`)."""

    def __init__(self, path: Path, fh: TextIO) -> None:
        self.path = path
        self._fh = fh

    def write(self, index: int, obj: dict[str, Any]) -> None:
        self._fh.write(dumps(obj) + "\n")
        self._fh.flush()

    def finish(self, order: list[Any]) -> None:
        """Rewrite the file in input order (ids are unique) through a temporary file and a rename,
        still holding the lock; the file is then closed."""
        by_id: dict[str, str] = {}
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    by_id.setdefault(id_key(json.loads(line)["id"]), line if line.endswith("\n") else line + "\n")
        write_atomically(self.path, (by_id[k] for k in map(id_key, order) if k in by_id))
        self.close()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def write_atomically(path: Path, lines: Iterable[str]) -> None:
    """Replace `path` (the file a symlink names) with `lines` via a temporary file in its folder, keeping
    its mode; no temporary file is left on failure."""
    path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def refuse_input_as_output(source: Path, output: Path) -> None:
    """Exit 2 when the output is the input file itself: the same path, a symlink or a hard link to it."""
    try:
        same = os.path.samefile(source, output)
    except OSError:  # the output does not exist yet (or cannot be looked at): it is not the input
        same = False
    if same:
        raise InputError(f"the output is the input file ({source}); choose another -o: the input is never written",
                         file=str(output), field="--output")


def open_file_sink(path: Path, source: Path, input_ids: set[str], *, resume: bool) -> tuple[FileSink, set[str]]:
    """The locked output file and the ids of the rows it already holds (with --resume; else it is emptied)."""
    refuse_input_as_output(source, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = _open_locked(path)
    try:
        done = rows_already_done(path, input_ids) if resume else set()
        if not resume:
            fh.truncate(0)
    except BaseException:
        fh.close()
        raise
    return FileSink(path, fh), done


def _open_locked(path: Path) -> TextIO:
    """Open for appending (nothing is cut before the lock is held) and take the lock without waiting."""
    while True:
        fh = path.open("a", encoding="utf-8")
        if fcntl is None:
            return fh
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise InputError("another judgekit run is writing this file; wait for it to finish or choose another -o",
                             file=str(path), field="--output") from None
        try:
            if os.fstat(fh.fileno()).st_ino == path.stat().st_ino:
                return fh
        except FileNotFoundError:
            pass
        fh.close()  # the file was replaced (a run finishing) between opening and locking: open the new one


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

    def discard(self) -> None:
        """The reader went away (a closed pipe): what is still buffered goes nowhere, without an error at exit."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)


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
