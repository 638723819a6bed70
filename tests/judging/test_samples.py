"""Repeated samples (`--samples N`, JudgeConfig.samples) against the scripted HTTP judge: the
majority verdict, the share of MET as the soft value, self-agreement, and the cache per sample."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import judgekit
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import ScriptedJudgeServer, ServerState
from tests.helpers import SCORE_RUBRIC, read_jsonl, run_cli, write_jsonl

RUBRIC = rubric_from_data({"name": "t", "criteria": [{"id": "a", "text": "Says yes."}, {"id": "b", "text": "Is short."}]})
ROWS = [{"id": i, "prompt": "q", "response": f"answer {i}"} for i in range(4)]


def cycling(answers: dict[str, Sequence[object]]) -> Callable[..., object]:
    """A script that gives, per criterion and response(s), the next answer of a fixed cycle: what a
    judge sampled at a temperature above 0 would vary, made repeatable whatever the call order."""
    seen: dict[tuple[object, ...], int] = {}
    lock = threading.Lock()

    def answer(cid: str, *texts: str) -> object:
        with lock:
            n = seen[(cid, *texts)] = seen.get((cid, *texts), -1) + 1
        cycle = answers[cid]
        return cycle[n % len(cycle)]

    return answer


@pytest.fixture
def server() -> ScriptedJudgeServer:
    with ScriptedJudgeServer(ServerState()) as s:
        yield s


def judge(server: ScriptedJudgeServer, **kw: object) -> judgekit.Judge:
    return judgekit.Judge("openai:scripted", base_url=server.base_url, **kw)


def test_the_majority_of_three_samples_with_the_share_of_met_as_soft_value(server):
    server.state.script.met = cycling({"a": [True, True, False], "b": [False, True, False]})  # type: ignore[assignment]
    with judge(server, samples=3, cache=False) as j:
        results = j.score(ROWS, RUBRIC)
        agreement = j.agreement.self_agreement()
    for r in results:
        assert r.scores == {"a": 1, "b": 0}
        assert r.soft == pytest.approx({"a": 2 / 3, "b": 1 / 3})
        assert r.reward == pytest.approx(0.5)
        assert r.soft_reward == pytest.approx(0.5)  # (2/3 + 1/3) / 2
    assert agreement == pytest.approx({"a": 2 / 3, "b": 2 / 3})
    verdict_requests = server.state.requests
    assert len(verdict_requests) == 3 * 2 * len(ROWS)  # samples x criteria x rows
    assert {r["temperature"] for r in verdict_requests} == {1.0}  # the default with samples
    assert {r["seed"] for r in verdict_requests} == {0, 1, 2}  # each sample its own draw


def test_no_majority_is_unscored_with_the_reason_and_no_reward(server):
    server.state.script.met = cycling({"a": [True, False], "b": [True]})  # type: ignore[assignment]
    with judge(server, samples=2, cache=False) as j:
        [result] = j.score(ROWS[:1], RUBRIC)
    assert result.scores == {"a": None, "b": 1}
    assert result.unscored["a"] == "no majority (MET 1, UNMET 1) over 2 of 2 samples"
    assert result.reward is None


def test_pairwise_samples_without_a_majority_are_a_tie(server):
    server.state.script.prefer = cycling({"a": ["A", "B"], "b": ["A"]})  # type: ignore[assignment]
    with judge(server, samples=2, cache=False) as j:
        [pair] = j.compare([{"prompt": "q", "response_a": "x", "response_b": "y"}], RUBRIC)
    # a: each order's two samples split A/B -> a tie in each order; b: "A" in both orders -> inconsistent.
    assert pair.preferences == {"a": 0, "b": 0}
    assert pair.inconsistent == ["b"]


def test_the_cache_keeps_each_sample_n_calls_once_none_on_a_rerun(server, tmp_path):
    server.state.script.met = cycling({"a": [True, True, False], "b": [True]})  # type: ignore[assignment]
    with judge(server, samples=3, cache_dir=str(tmp_path / "c")) as j:
        first = j.score(ROWS, RUBRIC)
    calls_first = len(server.state.requests)
    with judge(server, samples=3, cache_dir=str(tmp_path / "c")) as j:
        second = j.score(ROWS, RUBRIC)
        hits = j.stats.cache_hits
    assert calls_first == 3 * 2 * len(ROWS)
    assert len(server.state.requests) == calls_first  # the rerun made no call
    assert hits == 3 * 2 * len(ROWS)
    assert [r.model_dump() for r in second] == [r.model_dump() for r in first]
    with judge(server, samples=1, cache_dir=str(tmp_path / "c")) as j:  # one sample at temperature 0: its own entries
        j.score(ROWS[:1], RUBRIC)
    assert len(server.state.requests) == calls_first + 2


def test_a_failed_sample_abstains(server):
    server.state.fault_sequence = ["server_error"]  # the first call fails for good (no retry below)
    with judge(server, samples=3, cache=False, max_attempts=1, concurrency=1) as j:
        [result] = j.score(ROWS[:1], rubric_from_data({"name": "t", "criteria": [{"id": "a", "text": "A"}]}))
    assert result.scores == {"a": 1} and result.soft == {"a": 1.0}


@pytest.mark.parametrize(("args", "words"), [
    (["--samples", "0"], "field '--samples': Input should be greater than or equal to 1"),
    (["--samples", "3", "--temperature", "0"], "field '--samples': samples above 1 need a temperature above 0"),
])
def test_bad_samples_exit_2_naming_the_option(tmp_path: Path, args: list[str], words: str):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(SCORE_RUBRIC)
    data = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url",
                   "http://127.0.0.1:9/v1", *args)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_cli_samples_summary_shows_self_agreement(server, tmp_path: Path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(SCORE_RUBRIC)
    data = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
                   "--samples", "3", "-o", str(out), env={"JUDGEKIT_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert "self-agreement over samples: a 1.00, b 1.00" in proc.stderr
    assert "judge calls: 24" in proc.stderr  # 3 samples x 2 criteria x 4 rows
    assert [r["soft"] for r in read_jsonl(out)] == [{"a": 1.0, "b": 1.0}] * 4
