"""Output JSONL: rows written in input order the moment every earlier row is written, resumable.

A finished row waits only for the rows before it (the run bounds how many rows are taken and not yet
written), then it is appended and flushed, to a file or to stdout (`-o -`). So the output file is
always the first rows of the input, in order, each a whole line, except a last line torn by a killed
run; a finished row still waiting for an earlier one when a run is killed is not in the file, and
`--resume` judges it again (the verdict cache, when on, answers it without a call). On --resume the
torn last line is cut off and the rows already present are skipped: the file's rows must be the
input's first rows, id by id, else the file is not this input's output (exit 2), and the record beside
it of what made its rows must be this run's (judgekit.data.runrecord). Nothing here holds more than
one line of either file. An output that cannot be made or opened is exit 2 naming the path; one
that cannot be written mid-run (disk full) keeps its whole rows and stops the run, exit 1, naming
the path (FileSink).

The input is never written: an output that is the input file (same path, a symlink or a hard link
to it) is refused before anything is opened for writing. A run holds an exclusive lock (flock) on
the output file itself from opening to closing it, so a second run writing the same file is refused
instead of interleaving its rows.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol, TextIO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the other guarantees hold
    fcntl = None  # type: ignore[assignment]

from judgekit.data.rows import id_key
from judgekit.data.runrecord import RunRecord, keep_record
from judgekit.errors import InputError, OutputFailed
from judgekit.secrets import redact_tree


def dumps(obj: Mapping[str, object]) -> str:
    text = json.dumps(obj := redact_tree(obj), ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from the input) is kept as its \u escape
        return json.dumps(obj, ensure_ascii=True, allow_nan=False)
    return text


class RowSink(Protocol):
    def write(self, index: int, obj: Mapping[str, object]) -> int:
        """Take the finished row at 0-based position `index` of this run; returns how many rows went out."""
        ...

    def finish(self) -> None: ...
    def close(self) -> None: ...


class _InOrder:
    """Rows released in input order: each waits only for the rows before it."""

    def __init__(self, emit: Callable[[Mapping[str, object]], object]) -> None:
        self._emit = emit
        self._ready: dict[int, Mapping[str, object]] = {}
        self._next = 0

    def put(self, index: int, obj: Mapping[str, object]) -> int:
        self._ready[index] = obj
        released = 0
        while self._next in self._ready:
            self._emit(self._ready.pop(self._next))
            self._next += 1
            released += 1
        return released


class FileSink:
    """Appends rows in input order to an output file it holds locked (see `open_file_sink`). The rows
    released together are written whole or not at all: a write that fails (disk full, a file-size
    limit) is cut back to the end of the last whole row (a regular file; a device is never cut), and
    the run stops (OutputFailed) naming the path and what to do."""

    def __init__(self, path: Path, fh: TextIO) -> None:
        self.path = path
        self._fh = fh
        self._fd = fh.fileno()
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._lines: list[str] = []
        self._order = _InOrder(lambda obj: self._lines.append(dumps(obj) + "\n"))
        self._failure: OutputFailed | None = None

    def write(self, index: int, obj: Mapping[str, object]) -> int:
        if self._failure is not None:  # after a failed write, no later row may follow: it would leave a gap
            raise self._failure
        released = self._order.put(index, obj)
        if released:
            data = "".join(self._lines).encode("utf-8")
            self._lines.clear()
            self._append(data)
        return released

    def _append(self, data: bytes) -> None:
        """`data` at the end of the file, unbuffered (so nothing is left to flush at close)."""
        start = os.lseek(self._fd, 0, os.SEEK_END) if self._regular else 0
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            if self._regular:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
            self._failure = write_failed(exc, self.path, resumable=self._regular)
            raise self._failure from None

    def finish(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


class DiscardSink:
    """Rows released in input order and dropped: the window of a run that keeps only what it counts."""

    def __init__(self) -> None:
        self._order = _InOrder(lambda obj: None)

    def write(self, index: int, obj: Mapping[str, object]) -> int:
        return self._order.put(index, obj)

    def finish(self) -> None:
        return None

    def close(self) -> None:
        return None


def refuse_input_as_output(source: Path, output: Path) -> None:
    """Exit 2 when the output is the input file itself: the same path, a symlink or a hard link to it."""
    try:
        same = os.path.samefile(source, output)
    except OSError:  # the output does not exist yet (or cannot be looked at): it is not the input
        same = False
    if same:
        raise InputError(f"the output is the input file ({source}); choose another -o: the input is never written",
                         file=str(output), field="--output")


def open_file_sink(path: Path, source: Path, input_ids: Callable[[], Iterator[str]], *,
                   resume: bool, record: RunRecord | None = None) -> tuple[FileSink, int]:
    """The locked output file and how many of the input's first rows it already holds (with --resume;
    else it is emptied). `input_ids` gives the input's id keys in order, anew on each call. `record`
    (what makes the rows, judgekit.data.runrecord) is checked on --resume and kept beside the file."""
    refuse_input_as_output(source, path)
    make_parent(path)
    fh = open_locked(path)
    try:
        regular = path.is_file()  # else a device such as /dev/null: written to, never cut or resumed
        if resume and not regular:
            raise not_a_file(path, "--resume continues")
        done = rows_already_done(path, input_ids) if resume else 0
        if record is not None and regular:
            try:
                keep_record(path, record, resume=resume, has_rows=done > 0)
            except OSError as exc:
                raise cannot_write(exc, path) from None
        if not resume and regular:
            fh.truncate(0)
    except BaseException:
        fh.close()
        raise
    return FileSink(path, fh), done


def not_a_file(path: Path, what: str) -> InputError:
    """Bad usage: `what` (e.g. "--resume continues") needs an output that is a regular file, not a device or a pipe."""
    return InputError(f"{what} an output file, and this is not a regular file (a device or a pipe); "
                      "give a file path", file=str(path), field="--output")


def make_parent(path: Path) -> None:
    """The output's folder, made if missing; one that cannot be made is an InputError naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(exc, path.parent, what="the output's folder") from None


def cannot_write(exc: OSError, path: Path, *, what: str = "the output", field: str = "--output") -> InputError:
    """A file-system error on an output, as bad usage naming the path and what to do."""
    where = exc.filename if isinstance(exc.filename, str) else str(path)
    if isinstance(exc, IsADirectoryError):
        why = "is a folder, not a file; give a file path"
    elif isinstance(exc, PermissionError):
        why = "cannot be written (permission denied); make its folder writable or write elsewhere"
    elif isinstance(exc, (NotADirectoryError, FileExistsError)):
        why = "cannot be made: a part of its path is a file, not a folder; write elsewhere"
    else:
        why = f"cannot be written ({exc.strerror or type(exc).__name__}); write elsewhere"
    return InputError(f"{what} {why}", file=where, field=field)


def write_failed(exc: OSError, path: Path, *, resumable: bool) -> OutputFailed:
    """A write that failed mid-run, naming the path and what to do."""
    if exc.errno == errno.ENOSPC:
        why, fix = "no space left on device", "free space"
    elif exc.errno == errno.EFBIG:
        why, fix = "file too large (a file-size limit)", "make room"
    else:
        why, fix = f"cannot be written ({exc.strerror or type(exc).__name__})", "fix that"
    return OutputFailed(f"{path}: {why}; {fix} and run again with --resume" if resumable else f"{path}: {why}; write elsewhere")


def open_locked(path: Path) -> TextIO:
    """Open for appending (nothing is cut before the lock is held) and take the lock without waiting;
    the lock lasts until the file is closed. Another run holding it: InputError (exit 2); an output
    that cannot be opened (a folder, no permission): InputError naming it."""
    while True:
        try:
            fh = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise cannot_write(exc, path) from None
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
        self._order = _InOrder(lambda obj: self._stream.write(dumps(obj) + "\n"))

    def write(self, index: int, obj: Mapping[str, object]) -> int:
        released = self._order.put(index, obj)
        if released:
            self._stream.flush()
        return released

    def finish(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        return None

    def discard(self) -> None:
        """The reader went away (a closed pipe): what is still buffered goes nowhere, without an error at exit."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)


def rows_already_done(path: Path, input_ids: Callable[[], Iterator[str]]) -> int:
    """How many of the input's first rows the output file holds, id by id; a torn tail left by a killed
    run (or a line that is not an output row) is cut off, and what follows it is judged again."""
    if not path.exists():
        return 0
    expected = input_ids()
    done = good_end = 0
    with path.open("rb") as fh:
        for raw in fh:
            key = _line_id(raw)
            if key is None:
                break
            if next(expected, None) != key:
                raise _not_this_input(path, key, done, input_ids)
            done += 1
            good_end += len(raw)
    if good_end < path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return done


def _line_id(raw: bytes) -> str | None:
    """The id key of a whole output line, or None for a torn or foreign one."""
    if not raw.endswith(b"\n"):
        return None
    try:
        return id_key(json.loads(raw)["id"])
    except (ValueError, KeyError, TypeError):
        return None


def _not_this_input(path: Path, key: str, position: int, input_ids: Callable[[], Iterator[str]]) -> InputError:
    row_id = json.loads(key)
    if any(k == key for k in input_ids()):
        why = (f"output row {position + 1} (id {row_id!r}) is not the input's row {position + 1}: this output was "
               "written for the input in another order; run again without --resume")
    else:
        why = f"row id {row_id!r} is not in the input; this output file belongs to another input"
    return InputError(why, file=str(path), line=position + 1, field="id")
