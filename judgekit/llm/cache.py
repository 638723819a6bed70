"""A disk cache of validated verdicts, in SQLite.

Key recipe: sha256 over the judge's identity (backend kind, model, endpoint; never a credential),
the request as the backend sends it (messages, schema, mode, the sampling parameters it can send:
CallRunner.cache_key) and CACHE_VERSION. Only complete, valid verdict sets are stored, so a failed
or partial answer is asked again next run.

A cache never stops a run: a file SQLite cannot read (truncated, garbage) is moved aside and a
fresh one started; a cache that cannot be created or written (disk full, read-only) is switched
off for the rest of the run. Each says so once, on the `judgekit` logger (stderr by default).

A local model file enters the key by its content (file_digest): its sha256, read once per version
of the file and kept in a small table beside the cache, so two files of the same name and size
never share verdicts, and a later run does not read a multi-GB model again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from judgekit.jsonvalue import JSONValue
from judgekit.llm.base import Identity
from judgekit.secrets import redact_tree

CACHE_VERSION = 1
FILENAME = "verdicts.sqlite3"
DIGESTS_FILENAME = "file-digests.sqlite3"
_CHUNK = 1 << 20
_HOW_TO_SKIP = "(--no-cache, or cache=False in Python, runs without one)"
# SQLite's primary result codes for a file that is not (or no longer) a readable database.
_UNREADABLE = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}

log = logging.getLogger("judgekit.llm.cache")
T = TypeVar("T")


def default_cache_dir() -> Path:
    if os.environ.get("JUDGEKIT_CACHE_DIR"):
        return Path(os.environ["JUDGEKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judgekit"


def cache_key(identity: Identity, request_fields: Mapping[str, object]) -> str:
    blob = json.dumps(
        {"v": CACHE_VERSION, "judge": identity, "request": request_fields}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# (resolved path, size, mtime in ns, inode): a file rewritten, replaced or touched is a new version.
_FileVersion = tuple[str, int, int, int]
_digests: dict[_FileVersion, str] = {}
_digests_lock = threading.Lock()


def file_digest(path: Path, directory: str | Path | None = None) -> str:
    """The sha256 of a file's content, read once per version of the file: remembered in this process
    and in a table in `directory` (default: the cache directory) for later runs."""
    resolved = path.resolve()
    st = resolved.stat()
    version: _FileVersion = (str(resolved), st.st_size, st.st_mtime_ns, st.st_ino)
    table = (Path(directory) if directory else default_cache_dir()) / DIGESTS_FILENAME
    with _digests_lock:
        digest = _digests.get(version) or _stored_digest(table, version)
        if digest is None:
            digest = _sha256_of(resolved)
            _store_digest(table, version, digest)
        _digests[version] = digest
        return digest


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _digest_table(table: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(table), isolation_level=None, timeout=30)
    db.execute("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
               "inode INTEGER, sha256 TEXT NOT NULL)")
    return db


def _stored_digest(table: Path, version: _FileVersion) -> str | None:
    if not table.is_file():
        return None
    try:
        with contextlib.closing(_digest_table(table)) as db:
            row = db.execute("SELECT sha256 FROM digests WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                             version).fetchone()
    except sqlite3.Error as exc:  # unreadable: the digest is computed again (and the table rewritten if it can be)
        log.debug("cannot read the file digests %s (%s)", table, exc)
        return None
    return str(row[0]) if row else None


def _store_digest(table: Path, version: _FileVersion, digest: str) -> None:
    """Keep the digest for later runs; one row per path (its latest version). A table that cannot be
    written only means the file is read again next run: the cache itself warns about its directory."""
    for _ in range(2):
        try:
            table.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(_digest_table(table)) as db:
                db.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)", (*version, digest))
            return
        except sqlite3.DatabaseError as exc:
            if not _unreadable(exc):
                log.debug("cannot keep the file digest in %s (%s)", table, exc)
                return
            table.unlink(missing_ok=True)  # garbage: only digests, computed again when needed
        except (OSError, sqlite3.Error) as exc:
            log.debug("cannot keep the file digest in %s (%s)", table, exc)
            return


def _unreadable(exc: sqlite3.DatabaseError) -> bool:
    # Python 3.10 has no sqlite_errorname: its messages are SQLite's fixed texts for these codes.
    return getattr(exc, "sqlite_errorname", "") in _UNREADABLE or "malformed" in str(exc) or "not a database" in str(exc)


class VerdictCache:
    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.path = self.directory / FILENAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._inode: int | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create the cache directory %s (%s); going on without a cache %s",
                        self.directory, exc.strerror or exc, _HOW_TO_SKIP)
            return
        with self._lock:
            try:
                self._open()
            except sqlite3.DatabaseError as exc:
                self._recover(exc)

    def _open(self) -> None:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
        except sqlite3.Error:
            db.close()
            raise
        self._db = db
        self._inode = os.stat(self.path).st_ino

    def get(self, key: str) -> dict[str, JSONValue] | None:
        def read() -> dict[str, JSONValue] | None:
            assert self._db is not None
            row = self._db.execute("SELECT value FROM verdicts WHERE key = ?", (key,)).fetchone()
            try:
                return redact_tree(json.loads(row[0])) if row else None
            except ValueError:  # an entry that is not JSON: a miss, asked again and overwritten
                return None

        with self._lock:
            return self._guard(read, None) if self._db is not None else None

    def put(self, key: str, value: Mapping[str, object]) -> None:
        blob = json.dumps(redact_tree(value), ensure_ascii=False)

        def write() -> None:
            assert self._db is not None
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts (key, value, created) VALUES (?, ?, ?)", (key, blob, time.time())
            )

        with self._lock:
            if self._db is not None:
                self._guard(write, None)

    def _guard(self, operation: Callable[[], T], fallback: T) -> T:
        """Run one cache operation. An unreadable file is moved aside and the operation tried once
        on a fresh file; any other SQLite failure switches the cache off."""
        try:
            return operation()
        except sqlite3.DatabaseError as exc:
            if not self._recover(exc):
                return fallback
        try:
            return operation()
        except sqlite3.Error as exc:
            self._give_up(f"cannot use the cache {self.path} ({exc})")
            return fallback

    def _recover(self, exc: sqlite3.DatabaseError) -> bool:
        """True when a fresh cache file is open in place of an unreadable one."""
        if not _unreadable(exc):
            self._give_up(f"cannot use the cache {self.path} ({exc})")
            return False
        try:
            aside = self._move_aside()
            self._open()
        except (OSError, sqlite3.Error) as err:
            self._give_up(f"the cache {self.path} is unreadable ({exc}) and could not be replaced ({err})")
            return False
        moved = f"moved it to {aside}" if aside else "another run already moved it aside"
        log.warning("the cache %s is unreadable (%s); %s and started a fresh one %s", self.path, exc, moved, _HOW_TO_SKIP)
        return True

    def _move_aside(self) -> Path | None:
        """Rename the unreadable file (and its WAL files, which belong to it) to `<name>.corrupt-<time>`.
        None when the file at the path is no longer the one this cache opened (another run replaced it)."""
        self._close()
        if not self.path.exists() or (self._inode is not None and os.stat(self.path).st_ino != self._inode):
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():  # never over an earlier copy kept for inspection
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.rename(f"{aside}{suffix}")
        return aside

    def _give_up(self, problem: str) -> None:
        self._close()
        log.warning("%s; going on without a cache %s", problem, _HOW_TO_SKIP)

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):  # a broken or full database: nothing left to keep
                db.close()

    def close(self) -> None:
        with self._lock:
            self._close()
