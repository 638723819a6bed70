"""judgekit as verl's custom reward function.

verl loads a module by path and calls a function in it by name. Point it at this file:

    custom_reward_function.path=examples/verl_reward.py
    custom_reward_function.name=compute_score           # naive / prime reward managers
    # or, for reward_model.reward_manager=batch (one call per batch, judged concurrently):
    custom_reward_function.name=compute_score_batch

Each parquet row should carry the question in `extra_info["question"]` (or "prompt"), and the
reference answer, if any, as `reward_model.ground_truth`. A row may carry its own rubric in
`extra_info["rubric"]` (judgekit, HealthBench, RaR or prometheus form).

The judge is set by environment variables, so the same file works on every worker:
JUDGEKIT_RUBRIC (a YAML file; default rubrics/helpfulness.yaml), JUDGEKIT_JUDGE (default
`openai:Qwen/Qwen3-8B`), JUDGEKIT_BASE_URL (e.g. http://127.0.0.1:8000/v1 for `vllm serve`),
JUDGEKIT_CONCURRENCY (default 64). A response without a reward (a failing judge, an unscored hard
rule, coverage below the Judge's min_coverage) scores 0.0 (verl needs a number); the dict form
says which (`judgekit_unscored`, `judgekit_coverage`) and the `judgekit` logger counts them.

Run it directly to see it work against judgekit's scripted judge:  python examples/verl_reward.py
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import judgekit

_lock = threading.Lock()
_made: dict[str, Any] = {}


def _functions() -> dict[str, Any]:
    """Built once per process, on first use (a Judge owns a thread and an HTTP client)."""
    with _lock:
        if not _made:
            default = Path(__file__).resolve().parent.parent / "rubrics" / "helpfulness.yaml"
            rubric = judgekit.load_rubric(os.environ.get("JUDGEKIT_RUBRIC", str(default)))
            judge = judgekit.Judge(
                os.environ.get("JUDGEKIT_JUDGE", "openai:Qwen/Qwen3-8B"),
                base_url=os.environ.get("JUDGEKIT_BASE_URL"),
                concurrency=int(os.environ.get("JUDGEKIT_CONCURRENCY", "64")),
            )
            _made["judge"] = judge
            _made["single"] = judgekit.verl_compute_score(rubric, judge, return_dict=True)
            _made["batch"] = judgekit.verl_compute_score(rubric, judge, batch=True, return_dict=True)
        return _made


def close() -> None:
    """Close the judge (its HTTP client and thread); the next call builds a new one."""
    with _lock:
        if _made:
            _made.pop("judge").close()
            _made.clear()


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any) -> dict:
    return _functions()["single"](data_source, solution_str, ground_truth, extra_info, **kwargs)


def compute_score_batch(data_sources: list, solution_strs: list, ground_truths: list, extra_infos: list, **kwargs: Any) -> list:
    return _functions()["batch"](data_sources, solution_strs, ground_truths, extra_infos, **kwargs)


def _demo() -> None:
    from judgekit.testing import Script, ScriptedJudgeServer, ServerState

    state = ServerState(script=Script(met=lambda cid, response: len(response.split()) > 3))
    with ScriptedJudgeServer(state) as server:
        os.environ.update(JUDGEKIT_JUDGE="openai:scripted", JUDGEKIT_BASE_URL=server.base_url)
        os.environ.setdefault("OPENAI_API_KEY", "unused")
        info = {"question": "Why is the sky blue?"}
        print(compute_score("demo", "Rayleigh scattering favours short wavelengths.", None, info))
        print(compute_score_batch(["demo"] * 2, ["Blue.", "Because air scatters blue light most."], [None] * 2, [info] * 2))
        close()


if __name__ == "__main__":
    _demo()
