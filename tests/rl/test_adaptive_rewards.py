"""Pair-adaptive criteria (OpenRS PAMR) as the reward of a prompt's group: the TRL reward, verl's
batch form and `judgekit serve` take a meta-rubric; the criteria written for each pair decide."""

from __future__ import annotations

import asyncio
import json
import pickle
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

import judgekit
from judgekit.errors import InputError
from judgekit.rl import verl as jverl
from judgekit.rl.trl import TrlReward
from judgekit.rl.verl import verl_batch_compute_score_legacy
from judgekit.rubric.meta import load_meta_rubric
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import RUBRICS, run_cli
from tests.rl.test_serve import http, serving_with

META = RUBRICS / "meta" / "pairwise.yaml"
PROMPT = "What is 2+2? Answer with the number."


def writer(body: dict[str, Any]) -> dict[str, Any]:
    """The judge writes one criterion per pair: the correct sum."""
    return {"criteria": [{"category": "correctness", "text": "The response gives the correct sum, 4."}]}


def prefer(cid: str, a: str, b: str) -> str:
    """Only the written criterion separates a pair: the side that says 4 is better on it."""
    if "sum" not in cid:
        return "tie"
    return "A" if a.strip() == "4" else "B" if b.strip() == "4" else "tie"


def writing(state: ServerState) -> list[dict[str, Any]]:
    return [r for r in state.requests if "correctness" in r["messages"][0]["content"]]


@pytest.fixture
def pamr_server() -> Any:
    with ScriptedJudgeServer(ServerState(script=Script(prefer=prefer, generate=writer))) as server:
        yield server


def test_trl_group_reward_is_decided_by_the_criteria_written_for_each_pair(pamr_server: ScriptedJudgeServer,
                                                                          tmp_path: Path) -> None:
    completions = ["Five.", "4", "six", "4"]  # a repeated completion: judged once, its pairs written once
    with judgekit.Judge("openai:scripted", base_url=pamr_server.base_url, api_key="sk-test", cache_dir=str(tmp_path)) as judge:
        reward = TrlReward(None, judge, strategy="round_robin", adaptive=META)  # no rubric: the written criteria only
        rewards = asyncio.run(reward([PROMPT] * 4, completions, completion_ids=None, trainer_state=None))
        assert rewards[1] == rewards[3] and all(r is not None for r in rewards)
        assert rewards[1] > max(rewards[0], rewards[2])  # the correct answer wins on the written criterion
        assert len(writing(pamr_server.state)) == 3  # 3 distinct completions: 3 pairs, each written for once
        before = len(pamr_server.state.requests)
        again = asyncio.run(TrlReward(None, judge, strategy="round_robin", adaptive=load_meta_rubric(META))(
            [PROMPT] * 4, completions))
    assert again == rewards and len(pamr_server.state.requests) == before  # the cache makes a rerun free
    # The picklable form (AsyncGRPOTrainer pickles reward functions) carries the meta-rubric with it.
    described = TrlReward(None, "openai:scripted", base_url=pamr_server.base_url, strategy="round_robin", adaptive=META,
                          judge_options={"cache_dir": str(tmp_path)})
    unpickled = pickle.loads(pickle.dumps(described))
    try:
        assert asyncio.run(unpickled([PROMPT] * 4, completions)) == rewards
    finally:
        unpickled.judge.close()


def test_trl_anchor_compares_each_completion_with_the_reference_on_its_pair_criteria(pamr_server: ScriptedJudgeServer) -> None:
    with judgekit.Judge("openai:scripted", base_url=pamr_server.base_url, api_key="sk-test", cache=False) as judge:
        reward = TrlReward(None, judge, strategy="anchor", adaptive=META)
        rewards = asyncio.run(reward([PROMPT] * 2, ["4", "six"], solution=["4", "4"]))
    assert rewards[0] == 0.5 and rewards[1] == 0.0  # ties the reference; loses to it on the written criterion
    assert len(writing(pamr_server.state)) == 2


def test_adaptive_needs_a_strategy_that_compares_pairs(judge: judgekit.Judge) -> None:
    with pytest.raises(InputError, match=r"adaptive .*anchor or round_robin"):
        TrlReward(None, judge, adaptive=META)
    with pytest.raises(InputError, match="adaptive"):
        verl_batch_compute_score_legacy(None, judge, strategy="pointwise", adaptive=META)


def test_verl_batch_form_ranks_a_group_on_the_written_criteria(pamr_server: ScriptedJudgeServer) -> None:
    with judgekit.Judge("openai:scripted", base_url=pamr_server.base_url, api_key="sk-test", cache=False) as judge:
        compute = verl_batch_compute_score_legacy(None, judge, strategy="round_robin", adaptive=META)
        infos = [{"prompt": PROMPT}] * 3
        out = compute(["math"] * 3, ["six", "4", "Five."], [None] * 3, infos)
    scores = [o["score"] for o in out]  # type: ignore[index]
    assert scores[1] > max(scores[0], scores[2]) and all(o["judgekit_scored"] == 1.0 for o in out)  # type: ignore[index]
    assert len(writing(pamr_server.state)) == 3


def test_verl_reward_kwargs_take_a_meta_rubric_and_compare_with_the_ground_truth(pamr_server: ScriptedJudgeServer) -> None:
    settings = {"judge": "openai:scripted", "base_url": pamr_server.base_url, "cache": False, "strategy": "anchor",
                "adaptive": str(META)}  # as verl passes reward_kwargs: no rubric, a meta-rubric file
    try:
        good = asyncio.run(jverl.compute_score("math", "4", "4", {"prompt": PROMPT}, **settings))
        bad = jverl.compute_score_sync("math", "six", "4", {"prompt": PROMPT}, **settings)
        alone = asyncio.run(jverl.compute_score("math", "six", None, {"prompt": PROMPT}, **settings))
    finally:
        jverl.close_judges()
    assert good["score"] == 0.5 and bad["score"] == 0.0 and bad["judgekit_scored"] == 1.0  # type: ignore[index]
    assert alone["judgekit_unscored"] == 1.0 and "no ground_truth" in alone["judgekit_unscored_reason"]  # type: ignore[index]
    assert len(writing(pamr_server.state)) == 2
    with pytest.raises(InputError, match="adaptive"):
        asyncio.run(jverl.compute_score("math", "4", "4", {"prompt": PROMPT}, **{**settings, "strategy": "pointwise"}))
    with pytest.raises(InputError, match="one response per call"):
        judgekit.verl_compute_score(None, "openai:scripted", strategy="round_robin", adaptive=META)


def serving_adaptive(judge_url: str, *options: str) -> AbstractContextManager[str]:
    """`judgekit serve --adaptive` in a subprocess, without a rubric; yields its root URL."""
    return serving_with("--adaptive", str(META), "--strategy", "anchor", "--judge", "openai:scripted", "--base-url", judge_url,
                        *options)


def test_serve_judges_each_response_against_its_label_on_the_criteria_written_for_the_pair(
        pamr_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    body = {"query": [PROMPT + "4", PROMPT + "six", PROMPT + "Five."], "prompts": [PROMPT] * 3, "labels": ["4", "4", ""]}
    with serving_adaptive(pamr_server.base_url, "--cache-dir", str(tmp_path)) as url:
        status, health = http("GET", url + "/health")
        assert health["adaptive"] == "pairwise-adaptive" and health["rubric"] is None
        status, out = http("POST", url + "/get_reward", json.dumps(body).encode())
        assert status == 200, out
        assert out["rewards"] == [0.5, 0.0, 0.0] and out["extra_logs"]["judgekit/unscored"] == [0.0, 0.0, 1.0]
        assert len(writing(pamr_server.state)) == 2  # one per labelled (response, label) pair
        before = len(pamr_server.state.requests)
        assert http("POST", url + "/get_reward", json.dumps(body).encode())[1] == out
        assert len(pamr_server.state.requests) == before  # the verdict cache makes a rerun free


def test_serve_adaptive_needs_the_anchor_strategy(tmp_path: Path) -> None:
    proc = run_cli("serve", "--adaptive", str(META), "--judge", "openai:x", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "--adaptive" in proc.stderr and "--strategy anchor" in proc.stderr
    assert "Traceback" not in proc.stderr
