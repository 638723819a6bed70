"""Canaries, audits and rubric dropout in the reward scorer every adapter shares, against scripted judges
with known weaknesses (real HTTP to the scripted server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import judgekit
from judgekit.errors import InputError
from judgekit.rl.options import RewardOptions
from judgekit.rl.rewards import BatchRewards, RewardScorer
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from judgekit.testing.server import probe_script

RUBRIC = rubric_from_data({"name": "capital", "criteria": [
    {"id": "answers", "text": "The response names the capital.", "weight": 2},
    {"id": "clear", "text": "The response is clear.", "weight": 1},
]})
PROMPTS = ["What is the capital of France?"] * 2 + ["Which city is France's capital?"] * 2
RESPONSES = ["The capital of France, a city on the Seine with many museums, is Paris.", ":",
             "The capital is Paris, as every atlas of Europe records it.", "I am not sure which city it is; I would have to look it up."]


def correct(response: str) -> bool:
    return "Paris" in response


def weak_judge(server: ScriptedJudgeServer, weakness: str | None) -> judgekit.Judge:
    server.state.script = probe_script(weakness, correct)
    return judgekit.Judge("openai:scripted", base_url=server.base_url, api_key="sk-test", concurrency=8, cache=False,
                          max_attempts=1)


def score(judge: judgekit.Judge, rubric: Any = RUBRIC, prompts: list[str] = PROMPTS, responses: list[str] = RESPONSES,
          **options: Any) -> BatchRewards:
    scorer = RewardScorer(rubric, judge, RewardOptions(**options))
    return asyncio.run(scorer.score_batch(prompts, responses, step=3))


@pytest.fixture
def audit_server() -> Iterator[ScriptedJudgeServer]:
    with ScriptedJudgeServer(ServerState(script=probe_script(None, correct))) as server:
        yield server


def test_a_judge_fooled_by_content_free_replies_shows_it_in_the_canaries_and_the_batch_is_masked(judge_server):
    with weak_judge(judge_server, "content-free") as judge:
        plain = score(judge)
        seen = score(judge, canary_rate=1.0, canary_families=("master-key", "refusal", "padding"))
        masked = score(judge, canary_rate=1.0, canary_families=("master-key", "refusal"), canary_max_fpr=0.5)
    fpr = seen.guards.metrics
    assert fpr["judgekit/canary_fpr/master-key"] == 1.0
    assert fpr["judgekit/canary_fpr/refusal"] == 0.0 and fpr["judgekit/canary_fpr/padding"] == 0.0
    assert fpr["judgekit/canary_n"] == 6.0 and fpr["judgekit/canary_masked"] == 0.0  # 2 prompts x 3 families
    # never mixed into a policy reward: the batch's own rewards are those judged without canaries
    assert seen.rewards == plain.rewards and seen.raw == plain.raw and seen.scores == plain.scores
    assert plain.rewards[1] == 1.0  # the weak judge rewards ":" (what the canaries warn of)
    assert masked.rewards == [None] * 4 and masked.raw == [None] * 4 and masked.unscored_count == 4
    assert "master-key" in masked.guards.masked and masked.guards.metrics["judgekit/canary_masked"] == 1.0
    assert all("canary_max_fpr" in u["*"] for u in masked.unscored)


def test_an_honest_judge_shows_no_canary_false_positives_and_keeps_its_rewards(judge_server):
    with weak_judge(judge_server, None) as judge:
        result = score(judge, canary_rate=1.0, canary_max_fpr=0.0)
    rates = {k: v for k, v in result.guards.metrics.items() if k.startswith("judgekit/canary_fpr/")}
    assert len(rates) == 9 and set(rates.values()) == {0.0}  # every built-in family, all built from the batch
    assert not result.guards.masked and result.rewards == [1.0, 0.0, 1.0, 0.0]


def test_canaries_go_to_a_seeded_share_of_the_prompts(judge_server):
    with weak_judge(judge_server, None) as judge:
        runs = [score(judge, canary_rate=0.25, canary_families=("refusal",), guard_seed=seed) for seed in (1, 1, 2, 3, 4)]
    counts = [r.guards.metrics["judgekit/canary_n"] for r in runs]
    assert counts[0] == counts[1] and set(counts) <= {0.0, 1.0} and len(set(counts)) > 1


def test_an_audit_judge_shows_the_training_judge_rewarding_what_it_does_not(judge_server, audit_server):
    audit = judgekit.JudgeSpec("openai:scripted", base_url=audit_server.base_url, cache=False, max_attempts=1)
    with weak_judge(judge_server, "content-free") as judge:
        result = score(judge, audit_judge=audit, audit_rate=1.0)
    m = result.guards.metrics
    assert m["judgekit/audit_n"] == 4.0 and m["judgekit/audit_failed"] == 0.0
    assert m["judgekit/audit_agreement/answers"] == 0.75 and m["judgekit/audit_agreement/reward"] == 0.75
    assert m["judgekit/audit_reward_gap"] == 0.25  # ":" gets 1 from the training judge, 0 from the audit
    assert result.rewards == [1.0, 1.0, 1.0, 0.0]  # audits never change a reward


def test_a_failing_audit_judge_abstains_and_training_goes_on(judge_server, audit_server):
    audit_server.state.faults = Faults(server_error=1.0)
    audit = judgekit.JudgeSpec("openai:scripted", base_url=audit_server.base_url, cache=False, max_attempts=1)
    with weak_judge(judge_server, None) as judge:
        result = score(judge, audit_judge=audit, audit_rate=0.5)
    m = result.guards.metrics
    assert m["judgekit/audit_failed"] == m["judgekit/audit_n"] == 2.0
    assert "judgekit/audit_reward_gap" not in m and "judgekit/audit_agreement/reward" not in m  # unknown, not made up
    assert result.rewards == [1.0, 0.0, 1.0, 0.0]


DROP_RUBRIC = rubric_from_data({"name": "five", "criteria": [
    {"id": "answers", "text": "Names the capital.", "weight": 2},
    {"id": "clear", "text": "Is clear.", "weight": 1},
    {"id": "brief", "text": "Is brief.", "weight": 1},
    {"id": "vague", "text": "Is vague.", "weight": -1},
    {"id": "safe", "text": "No harmful advice.", "kind": "hard_rule"},
]})


def test_rubric_dropout_keeps_gates_and_one_mask_per_prompt_group(judge_server):
    with weak_judge(judge_server, None) as judge:
        result = score(judge, DROP_RUBRIC, rubric_dropout=0.5)
        again = score(judge, DROP_RUBRIC, rubric_dropout=0.5)
    kept = [set(s) for s in result.scores]
    assert kept[0] == kept[1] and kept[2] == kept[3]  # the same criteria for every response of a group
    assert all("safe" in k and len(k) == 3 for k in kept)  # the gate always; 2 of the 4 others
    assert result.guards.metrics["judgekit/rubric_dropout/kept"] == 0.6
    assert [set(s) for s in again.scores] == kept  # seeded per step and prompt


def test_rubric_dropout_never_drops_every_positive_criterion(judge_server):
    rubric = rubric_from_data({"name": "one-positive", "criteria": [
        {"id": "answers", "text": "Names the capital.", "weight": 2},
        {"id": "vague", "text": "Is vague.", "weight": -1},
    ]})
    with weak_judge(judge_server, None) as judge:
        result = score(judge, rubric, rubric_dropout=1.0)
    assert all(set(s) == {"answers"} for s in result.scores) and result.rewards == [1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(("options", "field"), [
    ({"canary_rate": 1.5}, "canary_rate"), ({"audit_rate": -0.1, "audit_judge": "local"}, "audit_rate"),
    ({"rubric_dropout": float("nan")}, "rubric_dropout"), ({"canary_max_fpr": 2}, "canary_max_fpr"),
    ({"canary_families": ("master-key", "nope")}, "canary_families"), ({"audit_rate": 0.5}, "audit_judge"),
])
def test_bad_guard_options_name_the_option(options, field):
    with pytest.raises(InputError) as caught:
        RewardOptions(**options)
    assert caught.value.field == field and field in str(caught.value)


def test_the_trl_reward_takes_the_guards_checked_and_pickles_them_with_a_described_audit_judge():
    import pickle

    with pytest.raises(InputError) as caught:
        judgekit.TrlReward(RUBRIC, "openai:m", base_url="http://127.0.0.1:9/v1", canary_rate=2)
    assert caught.value.field == "canary_rate"
    with pytest.raises(InputError) as caught:
        judgekit.TrlReward(RUBRIC, "openai:m", base_url="http://127.0.0.1:9/v1", canary_rat=0.5)
    assert caught.value.field == "canary_rat"
    audit = judgekit.JudgeSpec("openai:big", base_url="http://127.0.0.1:9/v1")
    reward = judgekit.TrlReward(RUBRIC, "openai:m", base_url="http://127.0.0.1:9/v1", canary_rate=0.5,
                                canary_families=["master-key"], audit_judge=audit, audit_rate=0.1, rubric_dropout=0.2)
    options = pickle.loads(pickle.dumps(reward))._shared.options
    assert (options.canary_families, options.audit_judge, options.rubric_dropout) == (("master-key",), audit, 0.2)
