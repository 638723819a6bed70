"""A judge server that does not answer is found before the first row, named by its URL (credentials
masked), and a run whose every call failed says why on stderr, not only in the rows."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import judgekit
from judgekit.errors import JudgeUnreachable
from judgekit.llm.usage import FIRST_REASONS
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from tests.helpers import free_port, read_jsonl, run_cli, write_jsonl

PASSWORD = "hunter2-check-pw"


def _rows(tmp_path: Path, n: int = 6) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": "q", "response": f"r{i}"} for i in range(n)])


def _score(tmp_path: Path, rubric: Path, *urls: str, extra: tuple[str, ...] = ()) -> tuple[float, object]:
    args = ["score", str(_rows(tmp_path)), "--rubric", str(rubric), "--judge", "openai:m", "--no-cache",
            "-o", str(tmp_path / "out.jsonl"), *extra]
    for url in urls:
        args += ["--base-url", url]
    started = time.monotonic()
    proc = run_cli(*args)
    return time.monotonic() - started, proc


def test_a_closed_port_fails_before_the_first_row_naming_the_url(rubric: Path, tmp_path: Path) -> None:
    port = free_port()
    took, proc = _score(tmp_path, rubric, f"http://admin:{PASSWORD}@127.0.0.1:{port}/v1")
    assert proc.returncode == 1, proc.stderr
    assert f"the judge server at http://admin:***@127.0.0.1:{port}/v1 does not answer: connection failed" in proc.stderr
    assert PASSWORD not in proc.stderr and "Traceback" not in proc.stderr
    assert read_jsonl(tmp_path / "out.jsonl") == []  # no file of null rows
    assert took < 30


def test_of_several_servers_one_that_does_not_answer_is_set_aside_and_the_run_goes_on(
        judge_server: ScriptedJudgeServer, rubric: Path, tmp_path: Path) -> None:
    port = free_port()
    dead = f"http://admin:{PASSWORD}@127.0.0.1:{port}/v1"
    _, proc = _score(tmp_path, rubric, judge_server.base_url, dead)
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "does not answer" in line]
    assert len(warning) == 1 and f"the judge server at http://admin:***@127.0.0.1:{port}/v1 does not answer" in warning[0]
    assert "set aside, the run goes on with the other servers" in warning[0]
    assert judge_server.base_url not in warning[0] and PASSWORD not in proc.stderr  # the server that answers is not blamed
    assert [r["reward"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1.0] * 6
    assert f"server http://admin:***@127.0.0.1:{port}/v1: 0 calls (0 failed, set aside 1x)" in proc.stderr


def test_several_servers_none_of_which_answers_fail_before_the_first_row_naming_each(rubric: Path, tmp_path: Path) -> None:
    ports = free_port(), free_port()
    _, proc = _score(tmp_path, rubric, *(f"http://127.0.0.1:{port}/v1" for port in ports))
    assert proc.returncode == 1, proc.stderr
    assert all(f"http://127.0.0.1:{port}/v1 does not answer" in proc.stderr for port in ports)
    assert read_jsonl(tmp_path / "out.jsonl") == []


def test_a_url_without_the_api_path_is_named_with_the_servers_404(judge_server: ScriptedJudgeServer, rubric: Path,
                                                                  tmp_path: Path) -> None:
    _, proc = _score(tmp_path, rubric, judge_server.root_url)  # no /v1
    assert proc.returncode == 1, proc.stderr
    assert f"the judge server at {judge_server.root_url} answers HTTP 404" in proc.stderr
    assert "is the URL the API's base" in proc.stderr


def test_a_server_without_a_model_list_is_checked_with_a_request_that_generates_nothing(rubric: Path, tmp_path: Path) -> None:
    with ScriptedJudgeServer(ServerState(serves_models=False)) as server:
        _, proc = _score(tmp_path, rubric, server.base_url)
        probe = server.state.requests[0]
    assert proc.returncode == 0, proc.stderr
    assert probe["messages"] == [] and [r["reward"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1.0] * 6


def test_a_run_whose_every_call_failed_prints_the_first_reasons_with_the_url(rubric: Path, tmp_path: Path) -> None:
    state = ServerState(faults=Faults(server_error=0.5, rate_limit=0.5, retry_after=0.0))
    with ScriptedJudgeServer(state) as server:
        url = server.base_url.replace("http://", f"http://admin:{PASSWORD}@")
        _, proc = _score(tmp_path, rubric, url, extra=("--max-attempts", "1"))
    assert proc.returncode == 1, proc.stderr
    assert "every judge call failed" in proc.stderr and "the first reasons:" in proc.stderr
    shown = url.replace(PASSWORD, "***")
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip().startswith(shown)]
    assert any(": HTTP 500: internal error" in line for line in lines), proc.stderr
    assert any(": HTTP 429: rate limited" in line for line in lines), proc.stderr
    assert 2 <= len(lines) <= FIRST_REASONS and all(line.endswith("calls)") or line.endswith("call)") for line in lines)
    assert PASSWORD not in proc.stderr


def test_the_python_check_names_an_anthropic_server_that_does_not_answer() -> None:
    port = free_port()
    with judgekit.Judge("anthropic:claude-x", base_url=f"http://u:{PASSWORD}@127.0.0.1:{port}", api_key="sk-ant-test",
                        cache=False) as judge, pytest.raises(JudgeUnreachable) as caught:
        judge.check_servers()
    assert f"http://u:***@127.0.0.1:{port} does not answer" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_check_passes_for_a_scripted_anthropic_server(judge_server: ScriptedJudgeServer) -> None:
    with judgekit.Judge("anthropic:claude-x", base_url=judge_server.root_url, api_key="sk-ant-test", cache=False) as judge:
        judge.check_servers()
    assert judge_server.state.count == 0  # the model list, no message


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain web server (python -m http.server) on 127.0.0.1: 404 for GET /v1/models, 501 and an HTML page for a POST."""
    port = free_port()
    (tmp_path / "www").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path / "www",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_web_server_that_is_not_a_judge_is_refused_before_the_first_row_in_one_line(web_server: str, rubric: Path,
                                                                                      tmp_path: Path) -> None:
    _, proc = _score(tmp_path, rubric, web_server)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if web_server in line]
    assert len(lines) == 1 and "does not look like a judge server" in lines[0] and "HTTP 501" in lines[0], proc.stderr
    assert "<" not in proc.stderr and "Traceback" not in proc.stderr  # no raw HTML page
    assert read_jsonl(tmp_path / "out.jsonl") == []  # no file of null rows
