"""A panel judge's conservative reward (`panel_reward: mean_minus_std`): each judge of the panel
gives its own reward from its own verdicts, and the reward is their mean minus k standard
deviations (judgekit.rl.shaping.mean_minus_std), so judges that disagree lower it.

After Coste et al., "Reward Model Ensembles Help Mitigate Overoptimization": their
uncertainty-weighted objective takes the ensemble's mean minus a multiple of its spread. A judge
without a reward (it failed, or its coverage fell short) leaves the response without one: a mean
over the judges that answered would not be the ensemble's.
"""

from __future__ import annotations

from dataclasses import replace

from judgekit.errors import InputError
from judgekit.judging.context import JudgeContext
from judgekit.judging.judgment import score_item
from judgekit.judging.panel import PanelCollector
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.results import ROW_FAILED, ScoreResult
from judgekit.llm.fanout import gather_all
from judgekit.rl.shaping import mean_minus_std
from judgekit.rubric.models import Rubric


async def ensemble_outcome(context: JudgeContext, rubric: Rubric, item: PointwiseItem, k: float) -> ScoreResult:
    """The response's mean - k * std reward over the panel's judges; `scores` the judges' mean score
    per criterion (None where any judge left it unscored), each judge's reasons under `unscored`."""
    collector = context.collector
    if not isinstance(collector, PanelCollector):
        raise InputError("panel_reward mean_minus_std takes a panel judge (its judges' rewards); this judge is one model",
                         field="panel_reward")
    jurors = collector.jurors
    outcomes = await gather_all(*(score_item(replace(context, collector=j.collector), rubric, item) for j in jurors))
    unscored: dict[str, str] = {}
    for cid in dict.fromkeys(c for o in outcomes for c in o.unscored):
        unscored[cid] = "; ".join(f"{j.name}: {o.unscored[cid]}" for j, o in zip(jurors, outcomes) if cid in o.unscored)
    rewards = [o.reward for o in outcomes]
    reward = None
    if all(r is not None for r in rewards):
        reward = mean_minus_std([float(r) for r in rewards if r is not None], k)
    else:
        unscored[ROW_FAILED] = "mean_minus_std: no reward from " + ", ".join(
            j.name for j, r in zip(jurors, rewards) if r is None)
    scores: dict[str, float | None] = {}
    for cid in rubric.ids:
        values = [o.scores.get(cid) for o in outcomes]
        scores[cid] = None if any(v is None for v in values) else sum(float(v or 0.0) for v in values) / len(values)
    return ScoreResult(reward=reward, coverage=min(o.coverage for o in outcomes), scores=scores, unscored=unscored)
