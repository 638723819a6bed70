"""A bad cache never stops a run: a truncated or garbage cache file is moved aside and replaced, a
cache that cannot be written (disk full) or created is switched off; each says so once, naming
the file and --no-cache, and every row still gets its reward."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import CLI, ROOT, run_cli

RUBRIC = "name: t\ncriteria:\n  - id: a\n    text: Says yes.\n  - id: b\n    text: Is short.\n"
DB = "verdicts.sqlite3"


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": "q", "response": f"answer {i}"}) + "\n" for i in range(40)))
    return rubric, data


@pytest.fixture
def server() -> Iterator[ScriptedJudgeServer]:
    # Long reasoning, so that 40 rows fill many pages of the cache.
    with ScriptedJudgeServer(ServerState(script=Script(reasoning="because " * 500), record=False)) as running:
        yield running


def score(server: ScriptedJudgeServer, rubric: Path, data: Path, out: Path, cache: Path,
          prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    args = ["score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
            "--cache-dir", str(cache), "-o", str(out)]
    if not prefix:
        return run_cli(*args)
    return subprocess.run([*prefix, *CLI, *args], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=300)


def assert_all_rewarded(proc: subprocess.CompletedProcess[str], out: Path) -> None:
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(40)) and all(r["reward"] == 1.0 for r in rows)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_cache_is_moved_aside_and_the_run_goes_on(server, inputs, tmp_path: Path, damage: str) -> None:
    rubric, data = inputs
    cache = tmp_path / "cache"
    db = cache / DB
    if damage == "garbage":
        cache.mkdir()
        db.write_bytes(os.urandom(20000))
    else:
        assert_all_rewarded(score(server, rubric, data, tmp_path / "first.jsonl", cache), tmp_path / "first.jsonl")
        assert db.stat().st_size > 8 * 4096 and not (cache / f"{DB}-wal").exists()
        os.truncate(db, db.stat().st_size // 2)
    damaged = db.read_bytes()
    calls = server.state.count

    proc = score(server, rubric, data, tmp_path / "o.jsonl", cache)
    assert_all_rewarded(proc, tmp_path / "o.jsonl")
    assert server.state.count == calls + 80  # everything asked again
    assert proc.stderr.count("is unreadable") == 1, proc.stderr
    assert str(db) in proc.stderr and "--no-cache" in proc.stderr and "started a fresh one" in proc.stderr
    [aside] = [p for p in cache.iterdir() if p.name.startswith(f"{DB}.corrupt-") and not p.name.endswith(("-wal", "-shm"))]
    assert str(aside) in proc.stderr and aside.read_bytes() == damaged  # kept for inspection

    again = score(server, rubric, data, tmp_path / "again.jsonl", cache)
    assert_all_rewarded(again, tmp_path / "again.jsonl")
    assert server.state.count == calls + 80 and "unreadable" not in again.stderr  # the fresh cache works


def _tmpfs_runs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_runs(), reason="needs `unshare -rm` to mount a small tmpfs")
@pytest.mark.parametrize("when", ["at_start", "mid_run"])
def test_a_full_disk_under_the_cache_is_one_warning_and_the_run_goes_on(server, inputs, tmp_path: Path, when: str) -> None:
    """The cache folder is a 128 KiB tmpfs (in a private mount namespace): full from the start, or
    filling up after a few rows (each row's verdicts are about 8 KB)."""
    rubric, data = inputs
    cache = tmp_path / "cache"
    cache.mkdir()
    fill = 'dd if=/dev/zero of="$0/fill" bs=4096 2>/dev/null;' if when == "at_start" else ""
    # After the run, still inside the namespace: how many verdict sets the cache kept.
    count = f'{sys.executable} -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\'select count(*) from verdicts\').fetchone()[0])" "$0/{DB}"'
    script = f'mount -t tmpfs -o size=128k tmpfs "$0" && {fill} "$@"; code=$?; {count}; exit $code'
    proc = score(server, rubric, data, tmp_path / "o.jsonl", cache, ("unshare", "-rm", "sh", "-c", script, str(cache)))
    assert_all_rewarded(proc, tmp_path / "o.jsonl")
    kept = int(proc.stdout.split()[-1]) if proc.stdout.strip() else 0
    assert (0 < kept < 80) if when == "mid_run" else kept == 0  # mid-run: the first rows were cached
    assert proc.stderr.count("going on without a cache") == 1, proc.stderr
    assert "database or disk is full" in proc.stderr and str(cache / DB) in proc.stderr and "--no-cache" in proc.stderr


def test_a_cache_folder_that_cannot_be_created_is_one_warning(server, inputs, tmp_path: Path) -> None:
    rubric, data = inputs
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = score(server, rubric, data, tmp_path / "o.jsonl", blocker / "cache")
    assert_all_rewarded(proc, tmp_path / "o.jsonl")
    assert proc.stderr.count("going on without a cache") == 1, proc.stderr
    assert f"cannot create the cache directory {blocker / 'cache'}" in proc.stderr and "--no-cache" in proc.stderr
