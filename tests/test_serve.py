"""`judgekit serve`: OpenRLHF's remote reward model contract, over real HTTP, as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from judgekit.serve import parse_request, split_query, RequestProblem
from tests.conftest import ROOT

RUBRIC_YAML = """\
name: serve-test
criteria:
  - id: polite
    text: The response is polite.
    weight: 2
  - id: correct
    text: The response is correct.
    weight: 2
  - id: short
    kind: check
    check: {type: max_words, value: 50}
"""


def test_split_query_cases():
    assert split_query("<|user|>hi<|assistant|>hello<|endoftext|>", "<|user|>hi<|assistant|>") == "hello"
    # a BOS token before the prompt in the decoded query
    assert split_query("<s><|user|>hi<|assistant|> hello </s>", "<|user|>hi<|assistant|>") == "hello"
    assert split_query("no prompt here", "something else") == "no prompt here"
    assert split_query("whole text<|im_end|><|endoftext|>", None) == "whole text"


def test_parse_request_problems():
    assert parse_request({"query": ["a"], "prompts": ["p"], "labels": [None]}, 10) == (["a"], ["p"], [None])
    for body, status in [([1], 400), ({"query": "a"}, 422), ({"query": ["a"], "prompts": ["p", "q"]}, 422),
                         ({"query": ["a"], "labels": []}, 422), ({"query": ["a"] * 11}, 413)]:
        with pytest.raises(RequestProblem) as info:
            parse_request(body, 10)
        assert info.value.status == status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, ctype: str = "application/json") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except json.JSONDecodeError:
            return exc.code, {"raw": raw.decode("utf-8", "replace")}


@pytest.fixture
def reward_server(judge_server, tmp_path: Path):
    judge_server.state.script.met = lambda cid, response: cid in response
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--rubric", str(rubric), "--judge", "openai:scripted",
         "--base-url", judge_server.base_url, "--port", str(port), "--no-cache", "--max-body-mb", "0.01"],
        env={**os.environ, "OPENAI_API_KEY": "sk-test"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if http("GET", url + "/health")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("reward server did not start: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_openrlhf_contract(reward_server, judge_server):
    status, health = http("GET", reward_server + "/health")
    assert status == 200 and health["status"] == "ok" and health["criteria"] == ["polite", "correct", "short"]
    prompts = ["<|user|>Q1<|assistant|>", "<|user|>Q2<|assistant|>", "<|user|>Q3<|assistant|>"]
    responses = ["polite correct", "polite", "rude"]
    body = {"query": [p + r + "<|endoftext|>" for p, r in zip(prompts, responses)], "prompts": prompts,
            "labels": ["ref1", "", None]}
    for path in ("/", "/get_reward"):
        status, out = http("POST", reward_server + path, json.dumps(body).encode())
        assert status == 200, out
        assert out["rewards"] == pytest.approx([1.0, 0.6, 0.2])
        assert out["scores"] == pytest.approx([1.0, 0.6, 0.2])
        assert out["extra_logs"]["judgekit/polite"] == [1.0, 1.0, 0.0]
        assert out["extra_logs"]["judgekit/scored"] == [1.0, 1.0, 1.0]
    # the judge saw the response without the prompt or the end-of-text token, and the label as reference
    texts = [m["content"] for req in judge_server.state.requests for m in req["messages"] if m["role"] == "user"]
    assert any("ref1" in t for t in texts)
    assert not any("polite correct<|endoftext|>" in t for t in texts)


def test_malformed_requests_get_clear_4xx_json(reward_server):
    cases = [
        (b"{not json", "application/json", 400),
        (json.dumps([1, 2]).encode(), "application/json", 400),
        (json.dumps({"prompts": ["x"]}).encode(), "application/json", 422),
        (json.dumps({"query": ["a"], "prompts": ["a", "b"]}).encode(), "application/json", 422),
        (json.dumps({"query": ["a"]}).encode(), "text/plain", 415),
        (json.dumps({"query": ["x" * 20000]}).encode(), "application/json", 413),  # over --max-body-mb 0.01
    ]
    for body, ctype, expected in cases:
        status, out = http("POST", reward_server + "/get_reward", body, ctype)
        assert status == expected, (body[:40], out)
        assert out["error"]["status"] == expected and out["error"]["message"]
    assert http("GET", reward_server + "/get_reward")[0] == 405


def test_unscorable_gets_the_configured_number(judge_server, tmp_path):
    import asyncio

    import judgekit
    from judgekit.rubric import load_rubric
    from judgekit.serve import ServeOptions, reward_response
    from judgekit.rewards import RewardScorer
    from tests.conftest import Faults

    judge_server.state.faults = Faults(server_error=1.0)
    judge_server.state.__post_init__()
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML.split("  - id: short")[0])
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", cache=False, max_attempts=1) as j:
        scorer = RewardScorer(load_rubric(rubric), j)
        out = asyncio.run(reward_response(scorer, ServeOptions(unscored_reward=-1.0), ["p a"], ["p"], None))
    assert out["rewards"] == [-1.0] and out["scores"] == [-1.0]
    assert out["extra_logs"]["judgekit/scored"] == [0.0]
