"""judgekit as verl's reward function (verl 0.9.1; the same from 0.7.1 on).

verl needs no file of yours: point it at judgekit's own function and give the rubric and the judge
as reward_kwargs (the `+` adds keys that verl's config does not declare):

    reward.custom_reward_function.path=pkg://judgekit.rl.verl
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.rubric=/abs/path/rubrics/helpfulness.yaml
    +reward.custom_reward_function.reward_kwargs.judge=openai:Qwen/Qwen3-8B
    +reward.custom_reward_function.reward_kwargs.base_url=http://127.0.0.1:8000/v1
    +reward.custom_reward_function.reward_kwargs.concurrency=64
    reward.reward_manager.name=naive      # or remote, with name=compute_score_sync

Not `custom_reward_function.path=...` at the top level: verl 0.9 still accepts that key, but its
trainer reads only `reward.custom_reward_function`, so it would silently use its own
default_compute_score (which fails on data sources it does not know).

Or use this file, when the settings are better kept in code:
`reward.custom_reward_function.path=examples/verl_reward.py`, `name=compute_score`. `compute_score`
below is judgekit's function with its settings bound: picklable, its Judge built on the first call in
each of verl's reward workers; reward_kwargs still override any of them.

Each row carries the question in `extra_info["question"]` (or "prompt") and the reference answer, if
any, as `reward_model.ground_truth`; a row may carry its own rubric in `extra_info["rubric"]`. A
response without a reward (a failing judge, an unscored hard rule, coverage below the judge's
min_coverage) scores `unscored_reward` (0.0 here; verl needs a number), and says so in its dict
(`judgekit_unscored: 1.0`, `judgekit_unscored_reason`); the `judgekit` logger counts them.

Run it directly to see it work against judgekit's scripted judge:  python examples/verl_reward.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import judgekit

RUBRIC = Path(__file__).resolve().parent.parent / "rubrics" / "helpfulness.yaml"

compute_score = judgekit.verl_compute_score(
    RUBRIC, "openai:Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1", concurrency=64, unscored_reward=0.0,
)


def _demo() -> None:
    from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState

    info = {"question": "Why is the sky blue?"}
    state = ServerState(script=Script(met=lambda cid, response: len(response.split()) > 3))
    with ScriptedJudgeServer(state) as server:
        # verl merges reward_kwargs into each call the same way
        print(asyncio.run(compute_score("demo", "Air scatters blue light the most.", None, info,
                                        judge="openai:scripted", base_url=server.base_url, cache=False)))
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as failing:
        print(asyncio.run(compute_score("demo", "Blue.", None, info, judge="openai:scripted",
                                        base_url=failing.base_url, max_attempts=1, cache=False)))


if __name__ == "__main__":
    _demo()
