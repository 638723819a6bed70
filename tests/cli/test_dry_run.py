"""--dry-run: the calls a run would make (as many as the run then makes), no call sent, no file written."""

from __future__ import annotations

import re

from judgekit.testing import Script
from tests.helpers import run_cli, write_jsonl


def _calls(stderr: str, pattern: str) -> int:
    found = re.search(pattern, stderr)
    assert found is not None, stderr
    return int(found.group(1))


def test_dry_run_counts_the_calls_the_run_makes_and_sends_none(judge_server, tmp_path, rubric):
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A")
    cases = [("score", [{"id": i, "prompt": "p", "response": f"r{i}"} for i in range(5)]),
             ("compare", [{"id": i, "prompt": "p", "response_a": "a", "response_b": f"b{i}"} for i in range(4)])]
    for command, rows in cases:
        data = write_jsonl(tmp_path / f"{command}.jsonl", rows)
        out = tmp_path / f"{command}.out.jsonl"
        base = (command, str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url,
                "-o", str(out), "--no-cache", "--quiet")
        sent = len(judge_server.state.requests)
        dry = run_cli(*base, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert len(judge_server.state.requests) == sent and not out.exists()  # nothing asked, nothing written
        expected = _calls(dry.stderr, r"dry run: \d+ rows; (\d+) judge calls")
        real = run_cli(*base)
        assert real.returncode == 0, real.stderr
        assert _calls(real.stderr, r"judge calls: (\d+)") == expected


def test_dry_run_estimates_the_cost_of_a_priced_model(tmp_path, rubric):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "p", "response": "r"}])
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:gpt-4o-mini", "--dry-run",
                   env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"estimated cost: \$\d+\.\d{4} at list price", proc.stderr)
