"""Data never runs code: a rubric carried by a data row cannot name a python check that runs (even
with --allow-code), and a regex check cannot hang the run (it runs with a time limit)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import judgekit
from judgekit.rl.rewards import RewardScorer
from judgekit.testing import ScriptedJudgeServer
from tests.helpers import run_cli, write_jsonl

NOT_FROM_DATA = "python checks are not run from data rows"


def exec_row(marker: Path) -> dict[str, Any]:
    """A row whose response creates `marker` if anything executes it as Python."""
    return {"id": "x", "prompt": "Say something.", "response": f"open({str(marker)!r}, 'w').write('ran')",
            "rubric": [{"id": "run", "kind": "check", "check": {"python": "builtins:exec"}}]}


def score_cli(server: ScriptedJudgeServer, data: Path, out: Path, *extra: str, timeout: float = 120) -> Any:
    return run_cli("score", str(data), "--judge", "openai:scripted", "--base-url", server.base_url, "-o", str(out),
                   *extra, env={"OPENAI_API_KEY": "sk-test"}, timeout=timeout)


def test_row_rubric_naming_exec_never_runs_with_allow_code(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    data = write_jsonl(tmp_path / "rows.jsonl", [exec_row(marker)])
    out = tmp_path / "out.jsonl"
    res = score_cli(judge_server, data, out, "--allow-code")
    assert not marker.exists(), "the response text was executed"
    assert res.returncode in (0, 1), res.stderr
    row = json.loads(out.read_text())
    assert row["scores"]["run"] is None
    assert NOT_FROM_DATA in row["unscored"]["run"]
    assert row["reward"] is None


def test_python_checks_still_run_from_the_rubric_file_the_user_names(judge_server: ScriptedJudgeServer,
                                                                     tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text("name: t\ncriteria:\n  - id: py\n    kind: check\n"
                      "    check: {python: 'tests.check_funcs:mentions_answer'}\n", encoding="utf-8")
    data = write_jsonl(tmp_path / "rows.jsonl", [{"id": 1, "prompt": "q", "response": "the answer"}])
    out = tmp_path / "out.jsonl"
    res = score_cli(judge_server, data, out, "--rubric", str(rubric), "--allow-code")
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["scores"] == {"py": 1}


def test_row_rubric_naming_exec_never_runs_from_a_reward_function(judge_server: ScriptedJudgeServer,
                                                                  tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    row = exec_row(marker)
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", allow_code=True,
                        cache=False) as judge:
        scorer = RewardScorer(None, judge)
        batch = asyncio.run(scorer.score_batch([row["prompt"]], [row["response"]], rows=[{"rubric": row["rubric"]}]))
        also = asyncio.run(judgekit.trl_reward(None, judge)(prompts=[row["prompt"]], completions=[row["response"]],
                                                            rubric=[row["rubric"]]))
    assert not marker.exists(), "the completion text was executed"
    assert batch.scores[0]["run"] is None and NOT_FROM_DATA in batch.unscored[0]["run"]
    assert also == [None]


def test_catastrophic_regex_in_a_row_rubric_does_not_hang(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    rubric = [{"id": "only_a", "kind": "check", "check": {"type": "regex", "value": "^(a+)+$"}},
              {"id": "has_bang", "kind": "check", "check": {"type": "regex", "value": "!$"}}]
    data = write_jsonl(tmp_path / "rows.jsonl", [
        {"id": "long", "prompt": "q", "response": "a" * 100_000 + "!", "rubric": rubric},
        {"id": "short", "prompt": "q", "response": "aaaa", "rubric": rubric},
    ])
    out = tmp_path / "out.jsonl"
    started = time.monotonic()
    res = score_cli(judge_server, data, out, timeout=60)
    assert time.monotonic() - started < 30
    assert res.returncode in (0, 1), res.stderr
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["long"]["scores"] == {"only_a": None, "has_bang": 1}
    assert "regex check stopped after 1s" in rows["long"]["unscored"]["only_a"]
    assert rows["short"]["scores"] == {"only_a": 1, "has_bang": 0}
