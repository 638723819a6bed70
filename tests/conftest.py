"""Fixtures every test folder shares: an isolated cache, a scripted OpenAI-compatible judge on
127.0.0.1, and a rubric file. Plain helpers and paths are in tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from judgekit.testing import ScriptedJudgeServer, ServerState
from tests.helpers import SCORE_RUBRIC


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def judge_server() -> Iterator[ScriptedJudgeServer]:
    """A scripted judge answering MET for every criterion; tests change `server.state` as needed."""
    with ScriptedJudgeServer(ServerState()) as server:
        yield server


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    """SCORE_RUBRIC written to r.yaml."""
    path = tmp_path / "r.yaml"
    path.write_text(SCORE_RUBRIC)
    return path
