"""Shared fixtures: a scripted OpenAI-compatible judge on 127.0.0.1, an isolated cache, paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
RUBRICS = ROOT / "rubrics"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def judge_server() -> Iterator[ScriptedJudgeServer]:
    """A scripted judge answering MET for every criterion; tests change `server.state` as needed."""
    with ScriptedJudgeServer(ServerState()) as server:
        yield server


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python cli.py ...` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, env=full_env,
        input=input, timeout=timeout, cwd=str(ROOT),
    )


__all__ = ["Faults", "Script", "ScriptedJudgeServer", "ServerState", "run_cli", "ROOT", "SHARED_DATA", "RUBRICS"]
