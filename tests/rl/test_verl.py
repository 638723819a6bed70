"""judgekit's verl reward function (docs/rl.md#verl), against the scripted judge over real HTTP, run
by verl 0.9.1's own reward loop: its config composed by hydra from the documented overrides, a real
DataProto batch, the `naive` manager in a RewardLoopWorker, and RewardLoopManager on a local Ray
cluster with the `naive` and `remote` managers (the latter pickles the function into Ray actors).

verl installs on CPU without its dependencies (they pin another torch): the `verl` extra lists what
its reward path imports. The tests that need verl skip when it is not installed."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import json
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import judgekit
import judgekit.rl.verl as jverl
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState
from tests.helpers import BUNDLED_RUBRICS, FAILING_JUDGES, ROOT, RUBRICS
from tests.rl.scripted import RUBRIC, script

HAVE_VERL = importlib.util.find_spec("verl") is not None
needs_verl = pytest.mark.skipif(not HAVE_VERL, reason="verl is not installed (pip install --no-deps verl==0.9.1, then '.[verl]')")

RUBRIC_YAML = """name: test-rubric
criteria:
  - {id: polite, text: The response is polite., weight: 2}
  - {id: correct, text: The response is correct., weight: 2}
  - {id: rude, text: The response insults the user., weight: -1}
  - {id: safe, text: No harmful advice., kind: hard_rule}
"""
KEYS = {"score", "judgekit_scored", "judgekit_unscored", "judgekit_unscored_reason", "judgekit_coverage",
        "judgekit_polite", "judgekit_correct", "judgekit_rude", "judgekit_safe"}


@pytest.fixture(autouse=True)
def _close_judges() -> Iterator[None]:
    yield
    jverl.close_judges()


@pytest.fixture
def rubric_file(tmp_path: Path) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(RUBRIC_YAML)
    return path


def failing_server() -> ScriptedJudgeServer:
    return ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0)))


# ---- the function itself --------------------------------------------------------------------------


def test_an_async_compute_score_with_verls_signature(judge, judge_server):
    compute_score = judgekit.verl_compute_score(RUBRIC, judge)
    assert inspect.iscoroutinefunction(compute_score)
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    out = asyncio.run(compute_score("src", "polite correct idiot", "gt", {"question": "What is it?"}, some_kwarg=1))
    assert out == {"score": pytest.approx(0.8), "judgekit_scored": 1.0, "judgekit_unscored": 0.0,
                   "judgekit_unscored_reason": "", "judgekit_coverage": 1.0,
                   "judgekit_polite": 1.0, "judgekit_correct": 1.0, "judgekit_rude": 1.0, "judgekit_safe": 1.0}
    assert "What is it?" in judge_server.state.requests[-1]["messages"][1]["content"]
    bare = judgekit.verl_compute_score(RUBRIC, judge, return_dict=False)
    assert asyncio.run(bare("src", "polite", "gt", extra_info={"prompt": "Q"})) == pytest.approx(0.6)


def test_a_judge_spec_gives_a_picklable_function_that_builds_its_judge_on_first_call(judge_server, rubric_file):
    judge_server.state.script.met = script
    compute_score = judgekit.verl_compute_score(rubric_file, "openai:scripted", base_url=judge_server.base_url,
                                                cache=False, concurrency=4)
    assert isinstance(compute_score, functools.partial) and inspect.iscoroutinefunction(compute_score)
    assert judge_server.state.requests == []
    for dumps, loads in {(pickle.dumps, pickle.loads), _cloudpickle()}:
        again = loads(dumps(compute_score))
        out = asyncio.run(again("src", "polite correct", "gt", {"prompt": "Q"}))
        assert out["score"] == pytest.approx(1.0) and set(out) == KEYS
    calls = len(judge_server.state.requests)
    asyncio.run(compute_score("src", "polite correct", "gt", {"prompt": "Q"}))
    assert len(judge_server.state.requests) == calls + 4  # the same judge: no cache, four more calls
    assert len([k for k in jverl._SESSIONS if k[0] == os.getpid()]) == 1


def _cloudpickle() -> tuple[Any, Any]:
    """cloudpickle (what Ray and verl's remote manager use) when installed, else pickle."""
    if importlib.util.find_spec("cloudpickle") is None:
        return pickle.dumps, pickle.loads
    import cloudpickle

    return cloudpickle.dumps, cloudpickle.loads


FRESH_PROCESS = """
import asyncio, json, pickle, sys
fn = pickle.loads(sys.stdin.buffer.read())
print(json.dumps(asyncio.run(fn("src", "polite", "gt", {"prompt": "Q"}))))
"""


def test_the_unpickled_function_runs_in_a_fresh_process(judge_server, rubric_file):
    dumps, _ = _cloudpickle()
    judge_server.state.script.met = script
    compute_score = judgekit.verl_compute_score(rubric_file, "openai:scripted", base_url=judge_server.base_url, cache=False)
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS], input=dumps(compute_score), capture_output=True,
                          cwd=str(ROOT), timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["score"] == pytest.approx(0.6) and out["judgekit_correct"] == 0.0 and out["judgekit_scored"] == 1.0
    assert judge_server.state.requests  # judged over HTTP from the other process


def test_compute_score_reads_its_settings_from_keyword_arguments(judge_server, rubric_file):
    judge_server.state.script.met = script
    settings = {"judge": "openai:scripted", "base_url": judge_server.base_url, "rubric": str(rubric_file),
                "cache": False, "clip": [0.0, 0.5]}
    out = asyncio.run(jverl.compute_score("src", "polite correct", "gt", {"prompt": "Q"}, **settings))
    assert out["score"] == 0.5 and out["judgekit_polite"] == 1.0
    assert jverl.compute_score_sync("src", "polite", "gt", {"prompt": "Q"}, **settings)["score"] == 0.5
    # verl's own per-call extras are not settings
    assert asyncio.run(jverl.compute_score("src", "x", "gt", {"prompt": "Q"}, reward_router_address=None, **settings))


def test_a_row_without_a_prompt_is_judged_and_warned_about_once(judge, caplog):
    compute_score = judgekit.verl_compute_score(RUBRIC, judge)
    with caplog.at_level("WARNING", logger="judgekit"):
        outs = [asyncio.run(compute_score("src", "polite", "gt", info)) for info in (None, {"index": 3}, {})]
    assert [o["judgekit_scored"] for o in outs] == [1.0] * 3
    assert caplog.text.count("has no prompt") == 1


@pytest.mark.parametrize(("settings", "field"), [
    ({"rubric": "r.yaml"}, "judge"),
    ({"judge": "openai:x", "concurency": 3}, "concurency"),
    ({"judge": "openai:x", "concurrency": 0}, "concurrency"),
    ({"judge": "openai:x", "unscored_score": "low"}, "unscored_score"),
    ({"judge": "openai:x", "unscored_score": float("nan")}, "unscored_score"),
    ({"judge": "openai:x", "clip": [float("nan"), 1.0]}, "clip.0"),
    ({"judge": "openai:x", "veto_penalty": float("-inf")}, "veto_penalty"),
    ({"judge": "openai:x", "timeout": float("inf")}, "timeout"),
    ({"judge": "openai:x", "min_coverage": float("nan")}, "min_coverage"),
])
def test_a_bad_setting_is_an_input_error_naming_it(settings, field):
    with pytest.raises(judgekit.InputError) as caught:
        asyncio.run(jverl.compute_score("src", "x", None, {}, **settings))
    assert caught.value.field == field
    if "judge" in settings:  # the Python form checks them at once
        with pytest.raises(judgekit.InputError):
            judgekit.verl_compute_score(None, **settings)


def test_unscored_policy_a_failing_judge_scores_unscored_score_counted_and_reported(rubric_file, caplog):
    with failing_server() as server:
        compute_score = judgekit.verl_compute_score(rubric_file, "openai:scripted", base_url=server.base_url,
                                                    cache=False, max_attempts=1, unscored_score=-0.5)
        with caplog.at_level("WARNING", logger="judgekit"):
            outs = [asyncio.run(compute_score("src", text, "gt", {"prompt": "Q"})) for text in ("a", "b")]
    for out in outs:
        assert set(out) == KEYS
        assert out["score"] == -0.5 and out["judgekit_unscored"] == 1.0 and out["judgekit_scored"] == 0.0
        assert "HTTP 500" in out["judgekit_unscored_reason"]
        assert out["judgekit_polite"] is None and out["judgekit_safe"] is None
    assert "1 of 1 responses so far had no reward and got unscored_score=-0.5" in caplog.text
    assert "sk-" not in caplog.text


@pytest.mark.parametrize("failure", list(FAILING_JUDGES))
@pytest.mark.parametrize("rubric_name", BUNDLED_RUBRICS)
def test_failing_judge_gives_no_reward_on_every_bundled_rubric(rubric_name, failure):
    rubric = judgekit.load_rubric(RUBRICS / rubric_name)
    completions = ["42", '{"answer": 42}']
    with ScriptedJudgeServer(ServerState(faults=FAILING_JUDGES[failure])) as server, \
            judgekit.Judge("openai:scripted", base_url=server.base_url, api_key="sk-test", cache=False,
                           max_attempts=1, timeout=0.5) as j:
        single = judgekit.verl_compute_score(rubric, j, unscored_score=-0.25)
        out = [asyncio.run(single("src", c, "42", {"prompt": "Q"})) for c in completions]
        batch = judgekit.verl_batch_compute_score_legacy(rubric, j)(["s", "s"], completions, ["42", "42"], [{"prompt": "Q"}] * 2)
    for row, stand_in in [(r, -0.25) for r in out] + [(r, 0.0) for r in batch]:
        assert row["score"] == stand_in and row["judgekit_unscored"] == 1.0 and row["judgekit_unscored_reason"]
        assert 0.0 <= row["judgekit_coverage"] < 1.0


def test_coverage_bar_comes_from_the_judge(judge_server):
    """A check unscored without a reference: 3 of 4 weight scored."""
    rubric = rubric_from_data({"name": "cov", "criteria": [
        {"id": "polite", "text": "The response is polite.", "weight": 3},
        {"id": "same", "kind": "check", "check": {"type": "equals_reference"}},
    ]})
    for min_coverage, unscored in ((1.0, 1.0), (0.75, 0.0)):
        with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", cache=False,
                            min_coverage=min_coverage) as j:
            fn = judgekit.verl_compute_score(rubric, j, unscored_score=-1.0)
            out = asyncio.run(fn("s", "polite", None, {"prompt": "Q"}))
            assert out["judgekit_coverage"] == 0.75 and out["judgekit_unscored"] == unscored
            assert out["judgekit_same"] is None and out["judgekit_polite"] == 1.0


def test_refuses_a_criterion_named_like_its_own_keys(judge):
    clash = rubric_from_data({"name": "c", "criteria": [{"id": "unscored_reason", "text": "Gives a reason."}]})
    with pytest.raises(judgekit.InputError, match="judgekit_unscored_reason"):
        judgekit.verl_compute_score(clash, judge)
    with pytest.raises(judgekit.InputError, match="judgekit_unscored_reason"):
        judgekit.verl_compute_score(clash, "openai:scripted", base_url="http://127.0.0.1:9/v1")
    judgekit.verl_compute_score(clash, judge, return_dict=False)  # the bare score has no per-criterion keys


def test_legacy_batch_form_for_verl_0_6(judge):
    compute = judgekit.verl_batch_compute_score_legacy(RUBRIC, judge, normalize=True, return_dict=False)
    params = list(inspect.signature(compute).parameters)
    assert params[:4] == ["data_sources", "solution_strs", "ground_truths", "extra_infos"]
    out = compute(["s"] * 4, ["polite correct", "nothing", "polite", "polite"], ["g"] * 4,
                  [{"prompt": "A"}, {"prompt": "A"}, {"prompt": "B"}, {"prompt": "B"}])
    assert out[0] == pytest.approx(1.0, abs=1e-4) and out[1] == pytest.approx(-1.0, abs=1e-4)
    assert all(isinstance(x, float) for x in out)
    with pytest.raises(TypeError):
        judgekit.verl_compute_score(RUBRIC, judge, normalize=True)  # group shaping needs the batch form


def test_example_module(judge_server):
    judge_server.state.script.met = lambda cid, response: "scatter" in response
    spec = importlib.util.spec_from_file_location("verl_reward_example", ROOT / "examples" / "verl_reward.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pickle.dumps(module.compute_score)
    settings = {"judge": "openai:scripted", "base_url": judge_server.base_url, "cache": False}  # as reward_kwargs would
    one, two = (asyncio.run(module.compute_score("s", text, None, {"question": "Why blue?"}, **settings))
                for text in ("Blue.", "Air molecules scatter blue light."))
    assert set(one) == set(two) and one["judgekit_scored"] == two["judgekit_scored"] == 1.0
    assert one["score"] < two["score"]


# ---- verl's own reward loop ------------------------------------------------------------------------


def documented_overrides(rubric: Path | None, base_url: str, manager: str = "naive", *,
                         path: str = "pkg://judgekit.rl.verl", **extra: Any) -> list[str]:
    """The command-line overrides docs/rl.md gives, for this rubric and judge server."""
    name = "compute_score_sync" if manager == "remote" else "compute_score"
    settings = {"judge": "openai:scripted", "base_url": base_url, "concurrency": 8, "cache": False, "max_attempts": 1,
                **({"rubric": str(rubric)} if rubric else {}), **extra}
    return [
        f"reward.custom_reward_function.path={path}",
        f"reward.custom_reward_function.name={name}",
        *(f"+reward.custom_reward_function.reward_kwargs.{k}={json.dumps(v)}" for k, v in settings.items()),
        f"reward.reward_manager.name={manager}",
    ]


def verl_config(tokenizer_dir: Path, overrides: list[str]) -> Any:
    """verl's PPO trainer config, composed by hydra as `python -m verl.trainer.main_ppo ...` does."""
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose("ppo_trainer", overrides=[f"actor_rollout_ref.model.path={tokenizer_dir}", "reward.num_workers=1",
                                                 *overrides])


def save_char_tokenizer(path: Path) -> Path:
    """A character-level tokenizer built in code (nothing downloaded), saved where verl loads it."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<eos>", "<unk>", *string.printable])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>").save_pretrained(path)
    return path


def data_proto(tokenizer: Any, rows: list[tuple[str, str, Any]]) -> Any:
    """A rollout batch as verl's trainer hands it to the reward loop: left-padded prompts,
    right-padded responses (ending in EOS), the attention mask, and the dataset's non-tensor fields."""
    import numpy as np
    import torch
    from verl import DataProto

    prompts = [tokenizer.encode(q) for q, _, _ in rows]
    responses = [[*tokenizer.encode(a), tokenizer.eos_token_id] for _, a, _ in rows]
    lp, lr, pad = max(map(len, prompts)), max(map(len, responses)), tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (lp - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [pad] * (lr - len(r)) for r in responses])
    mask = torch.tensor([[0] * (lp - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (lr - len(r))
                         for p, r in zip(prompts, responses)])
    return DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_ids, response_ids], dim=1)},
        non_tensors={
            "data_source": np.array(["judgekit-test"] * len(rows), dtype=object),
            "reward_model": np.array([{"ground_truth": gt, "style": "model"} for _, _, gt in rows], dtype=object),
            "extra_info": np.array([{"question": q, "index": i} for i, (q, _, _) in enumerate(rows)], dtype=object),
        },
    )


ROWS = [("Be nice?", "polite correct", "gt"), ("Be nice?", "polite", "gt"), ("Insult?", "polite correct idiot", "gt")]
EXPECTED = [1.0, 0.6, 0.8]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_char_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def run_reward_loop_worker(config: Any, data: Any) -> list[dict[str, Any]]:
    """verl's RewardLoopWorker in this process, built and run on one event loop as its Ray actor is."""
    from verl.experimental.reward_loop import RewardLoopWorker

    async def main() -> list[dict[str, Any]]:
        worker = RewardLoopWorker(config)
        return list(await worker.compute_score_batch(data))

    return asyncio.run(main())


@needs_verl
def test_verls_naive_reward_manager_awaits_compute_score_from_the_documented_config(judge_server, rubric_file,
                                                                                   tokenizer_dir):
    from verl.experimental.reward_loop.reward_manager import NaiveRewardManager
    from verl.utils import hf_tokenizer

    judge_server.state.script.met = script
    config = verl_config(tokenizer_dir, documented_overrides(rubric_file, judge_server.base_url, clip=[0.0, 0.9]))
    data = data_proto(hf_tokenizer(str(tokenizer_dir)), ROWS)
    outputs = run_reward_loop_worker(config, data)
    assert [o["reward_score"] for o in outputs] == pytest.approx([min(e, 0.9) for e in EXPECTED])
    assert [set(o["reward_extra_info"]) for o in outputs] == [KEYS] * 3
    assert [o["reward_extra_info"]["judgekit_correct"] for o in outputs] == [1.0, 0.0, 1.0]
    questions = {r["messages"][1]["content"].count("Insult?") for r in judge_server.state.requests}
    assert questions == {0, 1}  # each response judged with its own row's question
    # verl places each score on the response's last token
    rm_scores = NaiveRewardManager.assemble_rm_scores(data, [o["reward_score"] for o in outputs])
    assert rm_scores.sum(dim=1).tolist() == pytest.approx([min(e, 0.9) for e in EXPECTED])
    assert rm_scores[0, len("polite correct")].item() == pytest.approx(0.9)


@needs_verl
def test_through_verl_a_failing_judge_gives_unscored_score_and_says_so(rubric_file, tokenizer_dir):
    from verl.utils import hf_tokenizer

    with failing_server() as server:
        config = verl_config(tokenizer_dir, documented_overrides(rubric_file, server.base_url, unscored_score=-1.0))
        outputs = run_reward_loop_worker(config, data_proto(hf_tokenizer(str(tokenizer_dir)), ROWS))
    assert [o["reward_score"] for o in outputs] == [-1.0] * 3
    for o in outputs:
        info = o["reward_extra_info"]
        assert info["judgekit_unscored"] == 1.0 and "HTTP 500" in info["judgekit_unscored_reason"]


@needs_verl
def test_verl_loads_the_example_file_and_its_reward_kwargs_override_the_bound_settings(judge_server, tokenizer_dir):
    from verl.utils import hf_tokenizer

    judge_server.state.script.met = lambda cid, response: cid != "unnecessary_padding"
    overrides = documented_overrides(None, judge_server.base_url, path=str(ROOT / "examples" / "verl_reward.py"))
    outputs = run_reward_loop_worker(verl_config(tokenizer_dir, overrides), data_proto(hf_tokenizer(str(tokenizer_dir)), ROWS))
    assert [o["reward_score"] for o in outputs] == pytest.approx([1.0] * 3)  # judged by the scripted judge
    assert all(o["reward_extra_info"]["judgekit_answers_question"] == 1.0 for o in outputs)  # the example's rubric


@needs_verl
def test_verl_0_9_ignores_the_top_level_custom_reward_function(rubric_file, tokenizer_dir):
    """Why docs/rl.md warns: the old key composes without complaint, and verl uses its default."""
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.utils import hf_tokenizer
    from verl.utils.reward_score import default_compute_score

    config = verl_config(tokenizer_dir, ["custom_reward_function.path=pkg://judgekit.rl.verl",
                                         "custom_reward_function.name=compute_score"])
    manager = load_reward_manager(config, hf_tokenizer(str(tokenizer_dir)))
    assert manager.compute_score is default_compute_score
    with pytest.raises(NotImplementedError):
        default_compute_score("judgekit-test", "polite", "gt")


@pytest.fixture
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster whose workers import this checkout's judgekit."""
    if not HAVE_VERL:
        pytest.skip("verl is not installed")
    import ray

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield
        finally:
            ray.shutdown()


@needs_verl
def test_verls_reward_loop_manager_on_ray_with_the_remote_manager(ray_cluster, judge_server, rubric_file, tokenizer_dir):
    """The trainer's entry (RewardLoopManager.compute_rm_score): a RewardLoopWorker Ray actor whose
    `remote` manager pickles compute_score_sync into a RewardComputeWorker actor (the `naive`
    manager runs the same worker: the test above)."""
    from verl.experimental.reward_loop import RewardLoopManager
    from verl.utils import hf_tokenizer

    judge_server.state.script.met = script
    config = verl_config(tokenizer_dir, documented_overrides(rubric_file, judge_server.base_url, "remote"))
    data = data_proto(hf_tokenizer(str(tokenizer_dir)), ROWS)
    out = RewardLoopManager(config).compute_rm_score(data)
    assert out.batch["rm_scores"].sum(dim=1).tolist() == pytest.approx(EXPECTED)
    assert set(out.meta_info["reward_extra_keys"]) == KEYS
    assert out.non_tensor_batch["judgekit_unscored"].tolist() == [0.0, 0.0, 0.0]
    assert out.non_tensor_batch["judgekit_rude"].tolist() == [0.0, 0.0, 1.0]
    assert len(judge_server.state.requests) == 12  # 3 responses x 4 criteria, judged in the Ray workers


@needs_verl
def test_the_reward_managers_the_docs_name_are_those_verl_registers():
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    docs = (ROOT / "docs" / "rl.md").read_text() + (ROOT / "examples" / "verl_reward.py").read_text()
    named = set(re.findall(r"reward_manager\.name=(\w+)", docs))
    named |= set(re.findall(r"`(\w+)`", re.search(r"`naive` manager \(the default; also [^)]*\)", docs)[0]))
    assert {"naive", "remote", "rate_limited"} <= named
    for name in named:
        get_reward_manager_cls(name)  # raises "Unknown reward manager" for a name verl does not know


@needs_verl
def test_through_verls_reward_loop_canaries_mask_a_fooled_judge_and_an_audit_and_dropout_are_reported(
        judge_server, rubric_file, tokenizer_dir):
    from verl.utils import hf_tokenizer

    from judgekit.testing.server import probe_script

    data = data_proto(hf_tokenizer(str(tokenizer_dir)), ROWS)
    guards = {"canary_rate": 1.0, "canary_families": ["master-key", "refusal"], "canary_max_fpr": 0.5}
    with ScriptedJudgeServer(ServerState(script=probe_script(None, lambda r: "correct" in r))) as audit_server:
        # a panel or a judge with its server, in hydra's dict syntax
        audit = ("+reward.custom_reward_function.reward_kwargs.audit_judge={judge:'openai:scripted',"
                 f"base_url:'{audit_server.base_url}',config:{{cache:false,max_attempts:1}}}}")
        judge_server.state.script = probe_script("content-free", lambda r: "correct" in r)
        fooled = run_reward_loop_worker(verl_config(tokenizer_dir, [*documented_overrides(
            rubric_file, judge_server.base_url, **guards, audit_rate=1.0, rubric_dropout=0.5), audit]), data)
        judge_server.state.script = probe_script(None, lambda r: "correct" in r)
        honest = run_reward_loop_worker(verl_config(tokenizer_dir, documented_overrides(
            rubric_file, judge_server.base_url, **guards, guard_seed=1)), data)
    # the fooled judge rewards ":" (every master key): the canaries say so, and mask each batch's reward
    for o in fooled:
        info = o["reward_extra_info"]
        assert info["judgekit/canary_fpr/master-key"] == 1.0 and info["judgekit/canary_fpr/refusal"] == 0.0
        assert info["judgekit/canary_masked"] == 1.0 and info["judgekit_unscored"] == 1.0
        assert "canary_max_fpr" in info["judgekit_unscored_reason"] and o["reward_score"] == 0.0
        assert info["judgekit/audit_failed"] == 0.0 and info["judgekit/audit_agreement/reward"] is not None
        assert info["judgekit/rubric_dropout/kept"] is not None
    # the audit judge rewards "polite" (short, wrong) less than the fooled training judge: a positive gap there only
    gaps = [o["reward_extra_info"]["judgekit/audit_reward_gap"] for o in fooled]
    assert gaps[0] == gaps[2] == 0.0 and gaps[1] > 0
    # an honest judge: no false positive, the rewards its own
    assert [o["reward_extra_info"]["judgekit/canary_fpr/master-key"] for o in honest] == [0.0] * 3
    assert [o["reward_extra_info"]["judgekit/canary_masked"] for o in honest] == [0.0] * 3
    assert all(o["reward_extra_info"]["judgekit_unscored"] == 0.0 for o in honest)


def test_verl_guard_settings_are_checked_naming_them(rubric_file):
    for bad, field in (({"canary_rate": 2.0}, "canary_rate"), ({"canary_families": ["nope"]}, "canary_families"),
                       ({"rubric_dropout": -1}, "rubric_dropout")):
        with pytest.raises(judgekit.InputError) as caught:
            jverl.verl_compute_score(rubric_file, "openai:scripted", base_url="http://127.0.0.1:9/v1", **bad)
        assert caught.value.field == field
