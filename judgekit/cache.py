"""A disk cache of validated verdicts, in SQLite.

Key recipe: sha256 over the judge's identity (backend kind, model, endpoint; never a credential),
the request (messages, schema, mode, sampling parameters) and CACHE_VERSION. Only complete, valid
verdict sets are stored, so a failed or partial answer is asked again next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from judgekit.secrets import redact_tree

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    if os.environ.get("JUDGEKIT_CACHE_DIR"):
        return Path(os.environ["JUDGEKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judgekit"


def cache_key(identity: dict[str, Any], request_fields: dict[str, Any]) -> str:
    blob = json.dumps(
        {"v": CACHE_VERSION, "judge": identity, "request": request_fields}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class VerdictCache:
    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "verdicts.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM verdicts WHERE key = ?", (key,)).fetchone()
        return redact_tree(json.loads(row[0])) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        blob = json.dumps(redact_tree(value), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts (key, value, created) VALUES (?, ?, ?)", (key, blob, time.time())
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
