"""The TRL reward functions (docs/rl.md), against the scripted judge over real HTTP (verl: test_verl.py)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json

import pytest

import judgekit
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from tests.helpers import BUNDLED_RUBRICS, FAILING_JUDGES, RUBRICS
from tests.rl.scripted import RUBRIC


def run(coro):
    return asyncio.run(coro)


def test_trl_function_shape_name_and_async_detection(judge):
    fn = judgekit.trl_reward(RUBRIC, judge)
    assert inspect.iscoroutinefunction(fn)
    assert inspect.iscoroutinefunction(functools.partial(fn).func)
    assert fn.__name__ == "judgekit_test_rubric"
    params = inspect.signature(fn).parameters
    assert list(params)[:3] == ["prompts", "completions", "completion_ids"]
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    try:
        from trl.trainer.utils import get_callable_name, is_async_callable
    except ImportError:
        return
    assert is_async_callable(fn) and is_async_callable(functools.partial(fn))
    assert get_callable_name(functools.partial(fn)) == "judgekit_test_rubric"


def test_standard_format_rewards_and_dedupe(judge, judge_server):
    fn = judgekit.trl_reward(RUBRIC, judge)
    prompts = ["Q1"] * 4 + ["Q2"] * 2
    completions = ["polite correct", "polite", "polite correct", "polite correct idiot", "nothing", "polite danger"]
    rewards = run(fn(prompts=prompts, completions=completions, completion_ids=[[1]] * 6))
    assert rewards == pytest.approx([1.0, 0.6, 1.0, 0.8, 0.2, 0.0])
    # 5 distinct (prompt, completion) pairs x 4 model-judged criteria; the duplicate is judged once
    assert judge_server.state.count == 5 * 4


def test_conversational_format(judge):
    fn = judgekit.trl_reward(RUBRIC, judge)
    prompts = [[{"role": "system", "content": "be nice"}, {"role": "user", "content": "Q"}]] * 2
    completions = [[{"role": "assistant", "content": "polite correct"}], [{"role": "assistant", "content": "correct"}]]
    assert run(fn(prompts=prompts, completions=completions)) == pytest.approx([1.0, 0.6])


def test_partial_works(judge):
    fn = functools.partial(judgekit.trl_reward(RUBRIC, judge))
    assert run(fn(prompts=["Q"], completions=["polite"])) == pytest.approx([0.6])


def test_per_row_rubric_columns_in_every_format(judge):
    fn = judgekit.trl_reward(None, judge)
    rar = [{"title": "T", "description": "mentions polite", "weight": 1}]
    judgekit_list = [{"id": "polite", "text": "polite?"}, {"id": "correct", "text": "correct?"}]
    rewards = run(fn(
        prompts=["Q", "Q", "Q"],
        completions=["polite", "polite", "polite c1"],
        rubric=[judgekit_list, json.dumps(judgekit_list), rar],
    ))
    # judgekit list: polite met, correct unmet -> 0.5 (also when the column holds JSON text);
    # RaR criteria get ids c1.. and the script meets 'c1' only when the response names it
    assert rewards == pytest.approx([0.5, 0.5, 1.0])
    healthbench = run(fn(prompts=["Q"], completions=["c1"], rubrics=[[{"criterion": "x", "points": 3}, {"criterion": "y", "points": 1}]]))
    assert healthbench == pytest.approx([0.75])
    with pytest.raises(judgekit.InputError):
        run(fn(prompts=["Q"], completions=["x"]))


def test_failing_judge_gives_none_never_zero(judge_server):
    judge_server.state.faults = Faults(server_error=1.0)
    judge_server.state.__post_init__()
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", cache=False,
                        max_attempts=1) as j:
        fn = judgekit.trl_reward(RUBRIC, j, normalize=True, clip=(-1, 1))
        assert run(fn(prompts=["Q", "Q"], completions=["a", "b"])) == [None, None]


def test_criterion_rewards_share_one_pass_and_log(judge, judge_server):
    funcs = judgekit.trl_criterion_rewards(RUBRIC, judge, include_total=True)
    assert [f.__name__ for f in funcs] == ["judgekit_test_rubric", "judgekit_polite", "judgekit_correct", "judgekit_rude", "judgekit_safe"]
    metrics: dict[str, list[float]] = {}
    extra: dict[str, list] = {}

    async def all_at_once():
        kwargs = dict(prompts=["Q", "Q"], completions=["polite idiot", "correct"], completion_ids=None,
                      trainer_state=object(), log_metric=lambda k, v: metrics.setdefault(k, []).append(v),
                      log_extra=lambda k, v: extra.setdefault(k, []).extend(v))
        return await asyncio.gather(*(f(**kwargs) for f in funcs))

    total, polite, correct, rude, safe = run(all_at_once())
    assert judge_server.state.count == 2 * 4  # one pass for five functions
    assert polite == [1.0, 0.0] and correct == [0.0, 1.0]
    assert rude == [0.0, 1.0]  # a pitfall as a reward: 1 when the flaw is absent
    assert safe == [1.0, 1.0]
    assert total == pytest.approx([2 / 5, 3 / 5])  # the hard rule's weight 1 counts
    assert metrics["judgekit/polite"] == [0.5] and metrics["judgekit/rude"] == [0.5]
    assert metrics["judgekit/unscored_frac"] == [0.0]
    assert len(extra["judgekit_scores"]) == 2 and json.loads(extra["judgekit_scores"][0])["polite"] == 1


def test_shaping_options_in_trl(judge):
    fn = judgekit.trl_reward(RUBRIC, judge, normalize=True)
    rewards = run(fn(prompts=["A", "A", "B", "B"], completions=["polite correct", "nothing", "polite", "polite"]))
    assert rewards[0] == pytest.approx(1.0, abs=1e-4) and rewards[1] == pytest.approx(-1.0, abs=1e-4)
    assert rewards[2] == rewards[3] == 0.0
    veto = judgekit.trl_reward(RUBRIC, judge, veto_penalty=-1.0)
    assert run(veto(prompts=["A", "A"], completions=["polite danger", "nothing"])) == pytest.approx([-1.0, 0.2])
    clipped = judgekit.trl_reward(RUBRIC, judge, clip=(0.2, 0.8))
    assert run(clipped(prompts=["A", "A"], completions=["polite correct", "idiot"])) == [0.8, 0.2]


def test_reference_column(judge, judge_server):
    fn = judgekit.trl_reward(RUBRIC, judge)
    run(fn(prompts=["Q"], completions=["polite"], ground_truth=["the reference answer 42"]))
    assert any("the reference answer 42" in m["content"] for m in judge_server.state.requests[-1]["messages"])


def test_group_strategy_anchor(judge):
    pytest.importorskip("judgekit.judging.ranking")
    fn = judgekit.trl_reward(RUBRIC, judge, strategy="anchor")
    rewards = run(fn(prompts=["Q"] * 3, completions=["a", "b", "a"]))
    assert len(rewards) == 3 and rewards[0] == rewards[2]
    assert all(r is None or isinstance(r, float) for r in rewards)


def test_bad_options(judge):
    with pytest.raises(judgekit.InputError):
        judgekit.trl_reward(RUBRIC, judge, strategy="nope")
    with pytest.raises(judgekit.InputError):
        judgekit.trl_reward(RUBRIC, judge, clip=(1, 0))


# ---- the coverage rule in the adapters ----------------------------------------------------------


@pytest.mark.parametrize("failure", list(FAILING_JUDGES))
@pytest.mark.parametrize("rubric_name", BUNDLED_RUBRICS)
def test_failing_judge_gives_no_reward_in_trl_on_every_bundled_rubric(rubric_name, failure):
    rubric = judgekit.load_rubric(RUBRICS / rubric_name)
    completions = ["42", '{"answer": 42}']
    with ScriptedJudgeServer(ServerState(faults=FAILING_JUDGES[failure])) as server, \
            judgekit.Judge("openai:scripted", base_url=server.base_url, api_key="sk-test", cache=False,
                           max_attempts=1, timeout=0.5) as j:
        trl = judgekit.trl_reward(rubric, j)
        assert run(trl(prompts=["Q", "Q"], completions=completions, reference=["42", "42"])) == [None, None]


def test_coverage_bar_comes_from_the_judge(judge_server):
    """A check unscored without a reference: 3 of 4 weight scored."""
    rubric = rubric_from_data({"name": "cov", "criteria": [
        {"id": "polite", "text": "The response is polite.", "weight": 3},
        {"id": "same", "kind": "check", "check": {"type": "equals_reference"}},
    ]})
    for min_coverage, expected in ((1.0, [None]), (0.75, [1.0])):
        with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", cache=False,
                            min_coverage=min_coverage) as j:
            assert run(judgekit.trl_reward(rubric, j)(prompts=["Q"], completions=["polite"])) == expected
            # strict keeps its meaning: any unscored criterion, whatever the bar
            assert run(judgekit.trl_reward(rubric, j, strict=True)(prompts=["Q"], completions=["polite"])) == [None]
    with pytest.raises(judgekit.InputError, match="min_coverage"):
        judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", min_coverage=1.5)
