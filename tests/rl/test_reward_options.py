"""One set of reward options (judgekit.rl.options.RewardOptions) for TRL, verl and the reward server:
keyword-only shaping, one name for the stand-in of a missing reward (verl still reads the former
`unscored_score`), and one TRL reward form (`trl_reward` is `TrlReward` over a Judge)."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import judgekit
import judgekit.rl.verl as jverl
from judgekit.rl.options import RewardOptions
from judgekit.rl.serve import ServeOptions
from judgekit.rl.shaping import Shaping
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from tests.rl.scripted import RUBRIC


def test_options_are_frozen_picklable_data_and_shaping_takes_keywords_only() -> None:
    options = RewardOptions.of(strategy="anchor", clip=[0, 1], veto_penalty=-1, strict=True, unscored_reward=-0.5)  # type: ignore[arg-type]
    assert options.shaping.clip == (0.0, 1.0) and options.strategy == "anchor"
    assert pickle.loads(pickle.dumps(options)) == options
    with pytest.raises(AttributeError):
        options.strict = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        Shaping(True)  # type: ignore[misc]
    serve = ServeOptions(unscored_reward=-1.0, request_timeout=10.0)
    assert isinstance(serve, RewardOptions) and pickle.loads(pickle.dumps(serve)) == serve
    with pytest.raises(judgekit.InputError) as info:
        RewardOptions(strategy="nope")  # type: ignore[arg-type]
    assert info.value.field == "strategy"


@pytest.mark.parametrize("key", ["unscored_reward", "unscored_score"])
def test_verl_takes_the_stand_in_under_its_name_and_its_former_one(tmp_path, caplog, key: str) -> None:
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as server:
        compute_score = judgekit.verl_compute_score(RUBRIC, "openai:scripted", base_url=server.base_url,
                                                    cache=False, max_attempts=1, **{key: -0.5})
        with caplog.at_level("WARNING", logger="judgekit"):
            out = asyncio.run(compute_score("src", "a", "gt", {"prompt": "Q"}))
    jverl.close_judges()
    assert out["score"] == -0.5 and out["judgekit_unscored"] == 1.0
    assert f"got {key}=-0.5" in caplog.text
    with pytest.raises(judgekit.InputError, match="not both"):
        judgekit.verl_compute_score(RUBRIC, "openai:scripted", unscored_reward=-1.0, unscored_score=-1.0)


def test_trl_reward_is_the_one_reward_form_over_a_judge(judge: judgekit.Judge) -> None:
    function = judgekit.trl_reward(RUBRIC, judge, clip=(0.0, 0.5))
    reward = judgekit.TrlReward(RUBRIC, judge, clip=(0.0, 0.5))
    batch = {"prompts": ["Q", "Q"], "completions": ["polite and correct", "nothing"]}
    assert asyncio.run(function(**batch)) == asyncio.run(reward(**batch)) == [0.5, 0.2]  # "nothing": not rude (the pitfall absent)
    assert function.__name__ == reward.__name__ == "judgekit_test_rubric"
    assert reward.judge is judge
    with pytest.raises(TypeError, match="give TrlReward a judge spec"):
        pickle.dumps(reward)
