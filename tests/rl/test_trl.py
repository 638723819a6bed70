"""TRL: the picklable TrlReward, as GRPOTrainer and the experimental AsyncGRPOTrainer (which pickles
reward functions into a spawned rollout worker) use it; the `solution` column; per-criterion rewards."""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import pickle
from typing import Any

import pytest

import judgekit
from tests.helpers import free_port, scripted_judge

RUBRIC = judgekit.rubric_from_data({"name": "trl test", "criteria": [
    {"id": "polite", "text": "The response is polite.", "weight": 2},
    {"id": "correct", "text": "The response is correct.", "weight": 2},
    {"id": "rude", "text": "The response is rude.", "weight": -1},
]})
PROMPTS = [[{"role": "user", "content": "What is 6 x 7?"}]] * 4
COMPLETIONS = [[{"role": "assistant", "content": text}] for text in ("polite correct", "polite", "rude", "correct")]


def _verdicts(server) -> None:
    server.state.script.met = lambda cid, response: cid in response


def _reward(server, **options: Any) -> judgekit.TrlReward:
    return judgekit.TrlReward(RUBRIC, judgekit.JudgeSpec("openai:scripted", base_url=server.base_url, cache=False, max_attempts=1),
                              **options)


def test_trl_reward_object_pickles_its_judge_spec_and_builds_its_judge_where_it_is_called(judge_server):
    _verdicts(judge_server)
    reward = _reward(judge_server)
    assert reward.__name__ == "judgekit_trl_test"
    first = asyncio.run(reward(prompts=PROMPTS, completions=COMPLETIONS))
    assert first == pytest.approx([1.0, 0.5, 0.0, 0.5])  # (2 polite + 2 correct - 1 rude) / 4, floored at 0
    blob = pickle.dumps(reward)  # after use: the Judge it built stays behind
    assert b"scripted" in blob and b"Judge" not in blob.replace(b"JudgeSpec", b"").replace(b"JudgeConfig", b"")
    again = pickle.loads(blob)
    assert asyncio.run(again(prompts=PROMPTS, completions=COMPLETIONS)) == first
    # the closure over a Judge is what TrlReward replaces
    with scripted_judge(judge_server) as judge, pytest.raises(Exception, match="pickle"):
        pickle.dumps(judgekit.trl_reward(RUBRIC, judge))


def test_solution_is_read_as_the_reference(judge_server):
    reward = _reward(judge_server)
    asyncio.run(reward(prompts=PROMPTS[:1], completions=COMPLETIONS[:1], solution=["THE-REFERENCE-42"]))
    assert "THE-REFERENCE-42" in json.dumps(judge_server.state.requests)
    judge_server.state.requests.clear()
    named = _reward(judge_server, reference_column="gold")  # an explicit column wins, and solution is then not read
    asyncio.run(named(prompts=PROMPTS[:1], completions=COMPLETIONS[:1], gold=["GOLD-7"], solution=["NOT-THIS"]))
    sent = json.dumps(judge_server.state.requests)
    assert "GOLD-7" in sent and "NOT-THIS" not in sent


def test_per_criterion_objects_share_one_judging_pass_also_after_pickling(judge_server):
    _verdicts(judge_server)
    funcs = judgekit.TrlReward.per_criterion(RUBRIC, "openai:scripted", base_url=judge_server.base_url,
                                             include_total=True, judge_options={"cache": False})
    assert [f.__name__ for f in funcs] == ["judgekit_trl_test", "judgekit_polite", "judgekit_correct", "judgekit_rude"]
    for batch in (funcs, pickle.loads(pickle.dumps(funcs))):
        judge_server.state.requests.clear()

        async def step(batch=batch) -> list[list[float | None]]:
            return list(await asyncio.gather(*(f(prompts=PROMPTS, completions=COMPLETIONS) for f in batch)))

        total, polite, correct, rude = asyncio.run(step())
        assert total == pytest.approx([1.0, 0.5, 0.0, 0.5])
        assert polite == [1.0, 1.0, 0.0, 0.0] and correct == [1.0, 0.0, 0.0, 1.0]
        assert rude == [1.0, 1.0, 0.0, 1.0]  # a pitfall: 1.0 when the flaw is absent
        assert len(judge_server.state.requests) == 4 * 3  # one call per completion and criterion, once for all four
    with pytest.raises(ValueError, match="no criterion"):
        _reward(judge_server, criterion="nope")


# ---- AsyncGRPOTrainer: the rollout worker's process is spawned and gets the reward functions pickled ----

def _tokenizer() -> Any:
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    specials = ["<pad>", "<eos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + list(string.printable))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    tokenizer.chat_template = qwen3_chat_template  # a template TRL knows how to parse responses of
    return tokenizer


def score_group_in_worker(loop_kwargs: dict[str, Any], out: Any) -> None:
    """Runs in the spawned process as TRL's `_child_main` does (scrubbed environment, accelerate's state,
    the rollout loop built from the pickled kwargs); then the loop scores one group with its own code,
    where `run()` would generate it with vLLM first."""
    from accelerate.state import PartialState
    from trl.experimental.async_grpo.async_rollout_worker import (
        RolloutGroup,
        TrainingSequence,
        _AsyncRolloutLoop,
        _scrub_child_env,
    )

    try:
        _scrub_child_env()
        PartialState()
        ctx = multiprocessing.get_context("spawn")
        loop = _AsyncRolloutLoop(
            **loop_kwargs, rollout_buffer=ctx.Queue(), model_version_value=ctx.Value("i", 0),
            heartbeat_value=ctx.Value("d", 0.0), failed_event=ctx.Event(), exception_info_queue=ctx.Queue(),
            metrics_queue=ctx.Queue(),
        )
        n = len(COMPLETIONS)
        group = RolloutGroup(
            prompts=PROMPTS, reward_kwargs={"solution": ["42"] * n}, completions=COMPLETIONS,
            completions_ids=[[5, 6]] * n,
            completions_sequences=[[TrainingSequence([5, 6], [0, 1], [0.0, -0.5], f"r{i}")] for i in range(n)],
            tool_call_counts=[0] * n, tool_failure_counts=[0] * n, model_version=0, group_id=0,
            env_rewards=[None] * n, rollout_rewards=[None] * n,
        )
        samples = asyncio.run(loop._score_group(group))
        out.put({"names": loop.reward_func_names, "metrics": [s.metrics for s in samples],
                 "advantages": [s.advantage for s in samples]})
    except BaseException as exc:  # the parent reports it
        out.put({"error": f"{type(exc).__name__}: {exc}"})


def test_async_grpo_rollout_worker_pickles_and_calls_the_reward_in_a_spawned_process(judge_server):
    pytest.importorskip("trl.experimental.async_grpo.async_rollout_worker")
    from datasets import Dataset

    _verdicts(judge_server)
    reward = _reward(judge_server)
    # a judge nobody answers: its values are None (NaN in TRL), never a number
    unreachable = judgekit.TrlReward(RUBRIC, "openai:scripted", base_url=f"http://127.0.0.1:{free_port()}/v1",
                                     judge_options={"cache": False, "max_attempts": 1}, name="judgekit_unreachable")
    # what AsyncGRPOTrainer forwards to its rollout worker (vLLM's server address aside)
    loop_kwargs = {"model_name": "policy", "dataset": Dataset.from_list([{"prompt": PROMPTS[0], "solution": "42"}]),
                   "reward_funcs": [reward, unreachable], "processing_class": _tokenizer(), "eos_token_ids": [1],
                   "num_generations": len(COMPLETIONS), "queue_maxsize": 0, "dataset_start_index": 0}
    pickle.dumps(loop_kwargs)  # AsyncRolloutWorker.start() checks exactly this before it spawns
    ctx = multiprocessing.get_context("spawn")  # as AsyncRolloutWorker does
    out = ctx.Queue()
    worker = ctx.Process(target=score_group_in_worker, args=(loop_kwargs, out), daemon=True)
    worker.start()
    try:
        result = out.get(timeout=300)
    finally:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
    assert "error" not in result, result
    assert result["names"] == ["judgekit_trl_test", "judgekit_unreachable"]
    metrics = result["metrics"]
    assert [m["rewards/judgekit_trl_test"] for m in metrics] == pytest.approx([1.0, 0.5, 0.0, 0.5])
    assert all(math.isnan(m["rewards/judgekit_unreachable"]) for m in metrics)
    assert [m["reward"] for m in metrics] == pytest.approx([1.0, 0.5, 0.0, 0.5])  # TRL adds the NaN as 0 (nansum)
    advantages = result["advantages"]
    assert advantages[0] > advantages[1] > advantages[2] and advantages[1] == pytest.approx(advantages[3])
    assert judge_server.state.requests  # the child judged over HTTP, with its own Judge


@pytest.mark.parametrize(("settings", "argument"), [
    ({"clip": (float("nan"), 1.0)}, "clip"), ({"clip": (0.0, float("inf"))}, "clip"),
    ({"veto_penalty": float("nan")}, "veto_penalty"),
])
def test_trl_reward_refuses_nonfinite_shaping_naming_the_argument(judge_server, settings, argument):
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, cache=False) as judge, \
            pytest.raises(judgekit.InputError) as caught:
        judgekit.trl_reward(RUBRIC, judge, **settings)
    assert caught.value.field == argument
