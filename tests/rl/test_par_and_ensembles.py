"""PAR shaping and a panel's mean_minus_std reward, through the real TRL, verl and serve paths
against the scripted HTTP judge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import judgekit
from judgekit.rl.options import RewardOptions
from judgekit.rl.shaping import mean_minus_std, preference_as_reward, sigmoid
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import run_cli
from tests.rl.scripted import RUBRIC
from tests.rl.test_serve import RUBRIC_YAML, http, serving

# With tests.rl.scripted's judge: "polite correct" 5/5 = 1.0, "polite" (2 + the hard rule 1) / 5 = 0.6.
GOOD, REFERENCE = 1.0, 0.6


def test_par_and_mean_minus_std_as_pure_functions() -> None:
    assert preference_as_reward([1.0, 0.6, None, 0.2], [0.6, 0.6, 0.5, None]) == pytest.approx(
        [sigmoid(0.4), 0.5, None, None])
    assert sigmoid(-800) == pytest.approx(0.0) and sigmoid(800) == 1.0  # no overflow either way
    assert mean_minus_std([1.0, 0.5], 1.0) == pytest.approx(0.5)
    assert mean_minus_std([1.0, 0.5], 2.0) == pytest.approx(0.25)
    assert mean_minus_std([0.7, 0.7, 0.7], 3.0) == pytest.approx(0.7)


def test_trl_par_against_the_reference_column_judged_with_the_same_rubric(judge, judge_server) -> None:
    fn = judgekit.trl_reward(RUBRIC, judge, par=True)
    rewards = asyncio.run(fn(prompts=["Q", "Q", "R"], completions=["polite correct", "polite", "polite"],
                             ground_truth=["polite", "polite", None]))
    assert rewards[:2] == pytest.approx([sigmoid(GOOD - REFERENCE), 0.5])
    assert rewards[2] is None  # no reference response: no reward, never a number
    judged = [m["content"] for r in judge_server.state.requests for m in r["messages"] if m["role"] == "user"]
    assert sum("polite correct" in t for t in judged) == 4  # 4 criteria, the reference judged once for Q
    given = judgekit.trl_reward(RUBRIC, judge, par=True, par_reference_reward=0.6)
    assert asyncio.run(given(prompts=["R"], completions=["polite correct"])) == pytest.approx([sigmoid(0.4)])


def test_verl_par_compares_with_the_ground_truth_response(judge) -> None:
    compute_score = judgekit.verl_compute_score(RUBRIC, judge, par=True)
    out = asyncio.run(compute_score("src", "polite correct", "polite", {"prompt": "Q"}))
    assert out["score"] == pytest.approx(sigmoid(GOOD - REFERENCE)) and out["judgekit_unscored"] == 0.0
    missing = asyncio.run(compute_score("src", "polite correct", None, {"prompt": "Q"}))
    assert missing["judgekit_unscored"] == 1.0 and "no reference response" in missing["judgekit_unscored_reason"]


@pytest.mark.parametrize(("settings", "field"), [
    ({"par_reference_reward": float("nan"), "par": True}, "par_reference_reward"),
    ({"par_reference_reward": 0.5}, "par_reference_reward"),
    ({"panel_k": -1.0}, "panel_k"),
    ({"panel_k": float("inf")}, "panel_k"),
    ({"panel_reward": "median"}, "panel_reward"),
    ({"par": True, "strategy": "anchor"}, "par"),
])
def test_bad_options_are_errors_naming_the_option(settings, field) -> None:
    with pytest.raises(judgekit.InputError) as caught:
        RewardOptions.of(**settings)  # type: ignore[arg-type]
    assert caught.value.field == field
    verl_settings = {k: v for k, v in settings.items() if k != "strategy"}
    if "strategy" not in settings:  # verl's reward_kwargs are checked when the function is made
        with pytest.raises(judgekit.InputError) as caught:
            judgekit.verl_compute_score(None, "openai:x", **verl_settings)  # type: ignore[arg-type]
        assert caught.value.field == field


def test_serve_par_flags_through_openrlhf_requests(judge_server, tmp_path: Path) -> None:
    judge_server.state.script.met = lambda cid, response: cid in response
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)  # polite 2, correct 2, a max_words check 1
    body = json.dumps({"query": ["Qpolite correct", "Qpolite correct"], "prompts": ["Q", "Q"], "labels": ["polite", None]})
    with serving(rubric, judge_server.base_url, "--par") as url:
        status, out = http("POST", url + "/get_reward", body.encode())
    assert status == 200, out
    assert out["rewards"] == pytest.approx([sigmoid(1.0 - 3 / 5), 0.0])  # no label: the --unscored-reward number
    assert out["extra_logs"]["judgekit/scored"] == [1.0, 0.0]
    with serving(rubric, judge_server.base_url, "--par-reference-reward", "0.5") as url:
        status, out = http("POST", url + "/get_reward", body.encode())
    assert out["rewards"] == pytest.approx([sigmoid(0.5)] * 2)


@pytest.mark.parametrize(("flags", "named"), [
    (["--panel-k", "-1"], "--panel-k"), (["--panel-reward", "median"], "panel_reward"),
    (["--par-reference-reward", "nan"], "--par-reference-reward"), (["--par", "--strategy", "anchor"], "par"),
])
def test_bad_serve_flags_are_exit_2_naming_them(tmp_path: Path, flags: list[str], named: str) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    done = run_cli("serve", "--rubric", str(rubric), "--judge", "openai:x", "--base-url", "http://127.0.0.1:9", *flags,
                   env={"OPENAI_API_KEY": "sk-test"}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr


# ---- a panel's mean_minus_std ---------------------------------------------------------------------

TWO = rubric_from_data({"name": "two", "criteria": [{"id": "a", "text": "Says a."}, {"id": "b", "text": "Says b."}]})


@pytest.fixture
def two_judges() -> Iterator[list[ScriptedJudgeServer]]:
    generous = ServerState(script=Script(met=lambda cid, r: True))  # 1.0
    strict = ServerState(script=Script(met=lambda cid, r: cid == "a"))  # 0.5
    with ScriptedJudgeServer(generous) as one, ScriptedJudgeServer(strict) as two:
        yield [one, two]


def panel(servers: list[ScriptedJudgeServer]) -> judgekit.Panel:
    members = [{"judge": f"openai:j{i}", "base_url": s.base_url} for i, s in enumerate(servers)]
    return judgekit.Panel(members, cache=False, max_attempts=1, api_key="sk-test")  # type: ignore[arg-type]


def test_a_panel_gives_mean_minus_k_std_of_its_judges_rewards_in_trl_and_verl(two_judges) -> None:
    with panel(two_judges) as judges:
        for k, expected in ((1.0, 0.5), (2.0, 0.25), (0.0, 0.75)):
            fn = judgekit.trl_reward(TWO, judges, panel_reward="mean_minus_std", panel_k=k)
            assert asyncio.run(fn(prompts=["Q"], completions=["x"])) == pytest.approx([expected])
        compute_score = judgekit.verl_compute_score(TWO, judges, panel_reward="mean_minus_std", panel_k=1.0)
        out = asyncio.run(compute_score("src", "x", None, {"prompt": "Q"}))
        assert out["score"] == pytest.approx(0.5) and out["judgekit_a"] == 1.0 and out["judgekit_b"] == 0.5


def test_one_judge_of_the_panel_failing_gives_no_reward(two_judges) -> None:
    two_judges[1].state.faults = Faults(server_error=1.0)
    two_judges[1].state.__post_init__()
    with panel(two_judges) as judges:
        fn = judgekit.trl_reward(TWO, judges, panel_reward="mean_minus_std")
        [reward] = asyncio.run(fn(prompts=["Q"], completions=["x"]))
    assert reward is None


def test_mean_minus_std_needs_a_panel(judge) -> None:
    with pytest.raises(judgekit.InputError) as caught:  # refused when the reward is made, before any batch
        judgekit.trl_reward(TWO, judge, panel_reward="mean_minus_std")
    assert caught.value.field == "panel_reward"
