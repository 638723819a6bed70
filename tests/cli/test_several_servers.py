"""`--base-url` repeated on the command line: the run summary per server, an invalid URL, all servers down."""

from __future__ import annotations

from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from tests.helpers import read_jsonl, run_cli, write_jsonl


def _rows(tmp_path, n=6):
    return write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": "q", "response": f"r{i}"} for i in range(n)])


def test_repeated_base_url_balances_and_counts_per_server(judge_server, rubric, tmp_path):
    data = _rows(tmp_path)
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as failing:
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--no-cache",
                       "--base-url", judge_server.base_url, "--base-url", failing.base_url, "-o", str(tmp_path / "out.jsonl"))
        failed = failing.state.count
    assert proc.returncode == 0, proc.stderr
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["reward"] for r in rows] == [1.0] * 6
    assert f"server {judge_server.base_url}: {judge_server.state.count} calls (0 failed)" in proc.stderr
    assert f"server {failing.base_url}: {failed} calls ({failed} failed, set aside 1x)" in proc.stderr


def test_an_invalid_base_url_is_exit_2_naming_it(rubric, tmp_path):
    proc = run_cli("score", str(_rows(tmp_path)), "--rubric", str(rubric), "--judge", "openai:m",
                   "--base-url", "http://127.0.0.1:8000/v1", "--base-url", "127.0.0.1:8001")
    assert proc.returncode == 2 and "'127.0.0.1:8001'" in proc.stderr and "--base-url" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_all_servers_down_is_exit_1_with_each_servers_reason_and_rows_kept(rubric, tmp_path):
    data, out = _rows(tmp_path, 3), tmp_path / "out.jsonl"
    # Both answer the check before the run (their model list), then fail every call.
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as failing, \
            ScriptedJudgeServer(ServerState(faults=Faults(slow=1.0, slow_seconds=3.0))) as hanging:
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--no-cache", "--max-attempts", "2",
                       "--timeout", "0.5", "--base-url", failing.base_url, "--base-url", hanging.base_url, "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert f"server {failing.base_url}:" in proc.stderr and "HTTP 500" in proc.stderr
    assert f"server {hanging.base_url}:" in proc.stderr and "timed out" in proc.stderr
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["x0", "x1", "x2"] and all(r["reward"] is None and r["unscored"] for r in rows)
