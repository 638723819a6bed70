"""What the tests share besides fixtures: paths, the CLI as a user runs it, JSONL files, rubrics, failing
judges and a client for the scripted judge."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import judgekit
from judgekit.testing import Faults, ScriptedJudgeServer

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
RUBRICS = ROOT / "rubrics"
BUNDLED_RUBRICS = sorted(p.name for p in RUBRICS.glob("*.yaml"))
CLI = [sys.executable, str(ROOT / "cli.py")]

# Two model-judged criteria, the second weighted 2: a reward of 1.0 when the judge says MET to both.
SCORE_RUBRIC = "name: t\ncriteria:\n  - id: a\n    text: Says yes.\n  - id: b\n    text: Is short.\n    weight: 2\n"
# What the panel and cascade tests judge: two criteria (b weighs 2), rows half of which say yes, and
# a preference for the response that says yes.
KIND_RUBRIC_TEXT = "name: t\ncriteria:\n  - id: a\n    text: Says yes.\n  - id: b\n    text: Is kind.\n    weight: 2\n"
KIND_RUBRIC = judgekit.rubric_from_data({"name": "t", "criteria": [{"id": "a", "text": "Says yes."},
                                                                   {"id": "b", "text": "Is kind.", "weight": 2}]})
YES_NO_ROWS = [{"id": i, "prompt": "q", "response": "yes" if i % 2 else "no"} for i in range(4)]


def prefer_yes(cid: str, a: str, b: str) -> str:
    return "A" if "yes" in a and "yes" not in b else "B" if "yes" in b and "yes" not in a else "tie"

FAILING_JUDGES = {
    "errors": Faults(server_error=1.0),  # 500 on every call
    "hangs": Faults(slow=1.0, slow_seconds=3.0),  # never answers within a 0.5 s timeout
}


def run_cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python cli.py ...` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, input=input, timeout=timeout, cwd=str(ROOT))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scripted_judge(server: ScriptedJudgeServer, **kw: Any) -> judgekit.Judge:
    """A Judge on the scripted server, without a cache unless asked (so each test sees fresh calls)."""
    kw.setdefault("cache", False)
    return judgekit.Judge("openai:scripted", base_url=server.base_url, **kw)
