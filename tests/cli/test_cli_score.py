"""`judgekit score` as a user runs it: exit codes, messages, output rows, --resume, secrets."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import BUNDLED_RUBRICS, CLI, FAILING_JUDGES, ROOT, RUBRICS, SCORE_RUBRIC, read_jsonl, run_cli, write_jsonl


@pytest.fixture
def inputs(tmp_path: Path, rubric: Path) -> tuple[Path, Path]:
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": "q", "response": "yes" if i % 2 else "no"} for i in range(6)])
    return rubric, data


BAD_CASES = {
    "torn_jsonl_line": ("rows", '{"prompt": "q", "response": "r"}\n{"prompt": "q", "resp\n', None, "in.jsonl:2", "not valid JSON"),
    "missing_field": ("rows", '{"prompt": "q", "response": "r"}\n{"prompt": "q"}\n', None, "in.jsonl:2", "field 'response'"),
    "unknown_kind": ("rubric", None, "name: t\ncriteria:\n  - id: a\n    text: A\n    kind: vibe\n", "r.yaml:5", "criterion 'a', field 'kind'"),
    "duplicate_id": ("rubric", None, "name: t\ncriteria:\n  - id: a\n    text: A\n  - id: a\n    text: B\n", "r.yaml:5", "duplicate criterion id 'a'"),
    "empty_criteria": ("rubric", None, "name: t\ncriteria: []\n", "r.yaml:2", "at least one criterion"),
    "broken_yaml": ("rubric", None, "name: t\ncriteria:\n  - id: a\n    text: [oops\n", "r.yaml:", "not valid YAML"),
    "unknown_check_type": ("rubric", None, "name: t\ncriteria:\n  - id: s\n    kind: check\n    check: {type: vibes}\n", "r.yaml:5", "unknown check type 'vibes'"),
    "missing_file": ("missing", None, None, "nope.jsonl", "not found"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_exit_2_names_the_place(tmp_path, case):
    what, rows_text, rubric_text, where, words = BAD_CASES[case]
    rubric = tmp_path / "r.yaml"
    rubric.write_text(rubric_text or SCORE_RUBRIC)
    data = tmp_path / "in.jsonl"
    data.write_text(rows_text or '{"prompt": "q", "response": "r"}\n')
    target = tmp_path / "nope.jsonl" if what == "missing" else data
    proc = run_cli("score", str(target), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2, proc.stderr
    assert where in proc.stderr and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""


def test_rubric_validate_and_show():
    proc = run_cli("rubric", "validate", str(RUBRICS / "helpfulness.yaml"))
    assert proc.returncode == 0 and "6 criteria" in proc.stderr
    proc = run_cli("rubric", "show", str(RUBRICS / "helpfulness.yaml"))
    assert proc.returncode == 0 and "answers_question" in proc.stdout and "hard_rule" in proc.stdout


def test_usage_error_is_exit_2():
    proc = run_cli("score")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_unknown_judge_is_exit_2(inputs):
    rubric, data = inputs
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "gpt4")
    assert proc.returncode == 2 and "unknown judge" in proc.stderr


def test_score_writes_rows_in_order_and_stdout_only_with_dash(judge_server, inputs, tmp_path):
    judge_server.state.script = Script(met=lambda cid, r: r == "yes")
    rubric, data = inputs
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url, "--explain")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    out = read_jsonl(tmp_path / "in.scored.jsonl")
    assert [r["id"] for r in out] == [f"x{i}" for i in range(6)]
    assert out[1] == {"id": "x1", "reward": 1.0, "coverage": 1.0, "scores": {"a": 1, "b": 1}, "unscored": {},
                      "explanations": {"a": "scripted", "b": "scripted"}}
    assert out[0]["reward"] == 0.0
    assert "judge calls: 12" in proc.stderr and "tokens:" in proc.stderr

    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url, "-o", "-")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert [json.loads(l)["id"] for l in lines] == [f"x{i}" for i in range(6)]
    assert "cache hits: 12" in proc.stderr


def test_rows_carry_their_own_rubric(judge_server, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [
        {"prompt": "q", "response": "r", "rubric": [{"id": "own", "text": "Own criterion"}]},
        {"prompt": "q", "response": "r", "rubrics": [{"criterion": "HealthBench style", "points": 4, "tags": []}]},
    ])
    proc = run_cli("score", str(data), "--judge", "openai:m", "--base-url", judge_server.base_url, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(l) for l in proc.stdout.splitlines()]
    assert rows[0]["id"] == 1 and rows[0]["scores"] == {"own": 1}
    assert rows[1]["id"] == 2 and rows[1]["scores"] == {"c1": 1}


def test_row_without_any_rubric_is_exit_2(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "q", "response": "r"}])
    proc = run_cli("score", str(data), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "in.jsonl:1" in proc.stderr and "rubric" in proc.stderr


def test_field_remap(judge_server, tmp_path, inputs):
    rubric, _ = inputs
    data = write_jsonl(tmp_path / "in.jsonl", [{"key": "k1", "question": "q", "model_answer": "yes"}])
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url,
                   "--field", "response=model_answer", "--field", "id=key", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == "k1"


def test_unreachable_judge_is_exit_1_naming_it_before_any_row(inputs, tmp_path):
    rubric, data = inputs
    out = tmp_path / "o.jsonl"
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                   "--max-attempts", "1", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "the judge server at http://127.0.0.1:9/v1 does not answer: connection failed" in proc.stderr
    assert read_jsonl(out) == []  # opened (its checks come first), no row written


def test_api_key_never_reaches_output_cache_or_logs(tmp_path, inputs):
    secret = "sk-judgekit-test-7f9c2e1d4b"
    rubric, data = inputs
    state = ServerState(faults=Faults(server_error=0.5, seed=3))
    out = tmp_path / "o.jsonl"
    cache = tmp_path / "cache"
    with ScriptedJudgeServer(state) as server:
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
                       "--max-attempts", "1", "--explain", "-o", str(out), "--cache-dir", str(cache),
                       env={"OPENAI_API_KEY": secret})
    assert proc.returncode == 0, proc.stderr
    # the server saw the key and echoed it back in its 500 errors ...
    assert any(secret in h.get("authorization", "") for h in state.headers)
    text = out.read_text()
    assert "internal error for" in text  # ... and those errors reached the output as reasons ...
    # ... with the key redacted everywhere judgekit writes.
    for blob in [text, proc.stdout, proc.stderr] + [p.read_bytes().decode("latin-1") for p in cache.rglob("*") if p.is_file()]:
        assert secret not in blob


def test_resume_after_kill_loses_and_duplicates_nothing(tmp_path, inputs):
    rubric, _ = inputs
    n = 40
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "q", "response": "yes" if i % 3 else "no"} for i in range(n)])
    out = tmp_path / "o.jsonl"
    state = ServerState(script=Script(met=lambda cid, r: r == "yes"), latency=0.15)
    with ScriptedJudgeServer(state) as server:
        args = ["score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
                "-o", str(out), "--concurrency", "2", "--no-cache"]
        proc = subprocess.Popen([*CLI, *args], cwd=str(ROOT),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 5):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = read_jsonl(out)
        assert 5 <= len(partial) < n
        with out.open("a") as fh:  # a write torn by the kill
            fh.write('{"id": 39, "reward": 0.')
        state.latency = 0.0
        done = run_cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == list(range(n))
    for r in rows:
        assert r["reward"] == (1.0 if r["id"] % 3 else 0.0)
    assert f"{len(partial)} resumed" in done.stderr


def test_resume_refuses_output_of_another_input(tmp_path, inputs):
    rubric, data = inputs
    out = tmp_path / "o.jsonl"
    out.write_text('{"id": "not-in-input", "reward": 1.0, "scores": {}, "unscored": {}}\n')
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                   "-o", str(out), "--resume")
    assert proc.returncode == 2 and "another input" in proc.stderr


# ---- the coverage rule: a failing judge never earns a reward -----------------------------------

@pytest.mark.parametrize("failure", list(FAILING_JUDGES))
@pytest.mark.parametrize("rubric_name", BUNDLED_RUBRICS)
def test_failing_judge_gives_null_rewards_on_every_bundled_rubric(tmp_path, rubric_name, failure):
    rows = [{"id": i, "prompt": "q", "response": text, "reference": "42"} for i, text in enumerate(["42", "short answer", '{"a": 1}'])]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    with ScriptedJudgeServer(ServerState(faults=FAILING_JUDGES[failure])) as server:
        proc = run_cli("score", str(data), "--rubric", str(RUBRICS / rubric_name), "--judge", "openai:m",
                       "--base-url", server.base_url, "--max-attempts", "1", "--timeout", "0.5", "--no-cache", "-o", str(out),
                       env={"OPENAI_API_KEY": "sk-test"})
    assert proc.returncode == 1, proc.stderr  # every judge call failed
    got = read_jsonl(out)
    assert [r["reward"] for r in got] == [None, None, None], got
    assert all(0.0 <= r["coverage"] < 1.0 for r in got)
    assert "rows without a reward: 3" in proc.stderr


@pytest.fixture
def reference_rubric(tmp_path: Path) -> Path:
    """A principle of weight 3 and an `equals_reference` check of weight 1 (unscored without a reference)."""
    rubric = tmp_path / "cov.yaml"
    rubric.write_text("name: cov\ncriteria:\n  - id: a\n    text: Says yes.\n    weight: 3\n"
                      "  - id: same\n    kind: check\n    check: {type: equals_reference}\n")
    return rubric


def test_min_coverage_option_lowers_the_bar(judge_server, tmp_path, reference_rubric):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "q", "response": "yes"},
                                              {"id": 2, "prompt": "q", "response": "yes", "reference": "yes"}])
    common = ("score", str(data), "--rubric", str(reference_rubric), "--judge", "openai:m", "--base-url", judge_server.base_url, "-o", "-")
    proc = run_cli(*common)
    assert proc.returncode == 0, proc.stderr
    first, second = [json.loads(line) for line in proc.stdout.splitlines()]
    assert first["reward"] is None and first["coverage"] == 0.75 and "same" in first["unscored"]
    assert second["reward"] == 1.0 and second["coverage"] == 1.0
    assert "rows without a reward: 1" in proc.stderr
    proc = run_cli(*common, "--min-coverage", "0.75")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["reward"] for line in proc.stdout.splitlines()] == [1.0, 1.0]
    assert "rows without a reward: 0" in proc.stderr


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "lots"])
def test_bad_min_coverage_is_exit_2_naming_the_option(inputs, value):
    rubric, data = inputs
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                   "--min-coverage", value)
    assert proc.returncode == 2, proc.stderr
    assert "--min-coverage" in proc.stderr and "Traceback" not in proc.stderr
