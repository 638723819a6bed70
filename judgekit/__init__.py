"""judgekit: turn rubrics into rewards.

The public API is the names below; everything else is internal and may change. The package reads
bottom to top: rubric -> data -> llm (model calls) -> protocol (prompts and answers) -> judging ->
authoring (building rubrics) -> Judge -> Panel, rl (trainer rewards), evaluation -> cli.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from judgekit.authoring.generate import GenerateOutcome, generate_rubrics
    from judgekit.authoring.refine import RefineResult, RefineSettings, refine_rubric
    from judgekit.config import JudgeConfig
    from judgekit.data.datasets import EvalPair, read_pairs
    from judgekit.data.rows import DataRow, InputRow, read_data, read_jsonl
    from judgekit.errors import InputError, JudgeCrashed, JudgeError
    from judgekit.judge import Judge, JudgeSpec, rank_group
    from judgekit.judging.pairwise import PairItem
    from judgekit.judging.pointwise import PointwiseItem
    from judgekit.judging.ranking import RankOutcome
    from judgekit.judging.results import CompareResult, RankResult, ScoreResult
    from judgekit.judging.scoring import pointwise_reward
    from judgekit.llm.base import Backend, Completion, JudgeRequest
    from judgekit.llm.local_llama import LocalLlamaBackend
    from judgekit.panel import Panel, PanelJudge, PanelSpec, load_panel
    from judgekit.protocol.profiles import JudgeProfile, load_profile
    from judgekit.protocol.templates import pairwise_messages, pointwise_messages
    from judgekit.rl.trl import TrlReward, trl_criterion_rewards, trl_reward
    from judgekit.rl.verl import verl_batch_compute_score_legacy, verl_compute_score
    from judgekit.rubric.models import CheckSpec, Criterion, Rubric, load_rubric, rubric_from_data

# Each public name is imported from its module on first use, so that `import judgekit`, and the command
# line, which starts there, load only what they use (numpy, jinja2, the price table, the trainers'
# adapters each cost tens of milliseconds). The names are those imported above for type checkers.
_MODULES = {
    "judgekit.authoring.generate": ("GenerateOutcome", "generate_rubrics"),
    "judgekit.authoring.refine": ("RefineResult", "RefineSettings", "refine_rubric"),
    "judgekit.config": ("JudgeConfig",),
    "judgekit.data.datasets": ("EvalPair", "read_pairs"),
    "judgekit.data.rows": ("DataRow", "InputRow", "read_data", "read_jsonl"),
    "judgekit.errors": ("InputError", "JudgeCrashed", "JudgeError"),
    "judgekit.judge": ("Judge", "JudgeSpec", "rank_group"),
    "judgekit.judging.pairwise": ("PairItem",),
    "judgekit.judging.pointwise": ("PointwiseItem",),
    "judgekit.judging.ranking": ("RankOutcome",),
    "judgekit.judging.results": ("CompareResult", "RankResult", "ScoreResult"),
    "judgekit.judging.scoring": ("pointwise_reward",),
    "judgekit.llm.base": ("Backend", "Completion", "JudgeRequest"),
    "judgekit.llm.local_llama": ("LocalLlamaBackend",),
    "judgekit.panel": ("Panel", "PanelJudge", "PanelSpec", "load_panel"),
    "judgekit.protocol.profiles": ("JudgeProfile", "load_profile"),
    "judgekit.protocol.templates": ("pairwise_messages", "pointwise_messages"),
    "judgekit.rl.trl": ("TrlReward", "trl_criterion_rewards", "trl_reward"),
    "judgekit.rl.verl": ("verl_batch_compute_score_legacy", "verl_compute_score"),
    "judgekit.rubric.models": ("CheckSpec", "Criterion", "Rubric", "load_rubric", "rubric_from_data"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'judgekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found directly from now on
    return value


__all__ = [  # noqa: RUF022 (grouped by purpose)
    # rubrics
    "CheckSpec",
    "Criterion",
    "Rubric",
    "load_rubric",
    "rubric_from_data",
    # rows
    "DataRow",
    "EvalPair",
    "InputRow",
    "read_data",
    "read_jsonl",
    "read_pairs",
    # the judge and its results
    "CompareResult",
    "Judge",
    "JudgeConfig",
    "JudgeSpec",
    "Panel",
    "PanelJudge",
    "PanelSpec",
    "load_panel",
    "PairItem",
    "PointwiseItem",
    "RankOutcome",
    "RankResult",
    "ScoreResult",
    "pointwise_reward",
    "rank_group",
    # bring your own model or prompts
    "Backend",
    "Completion",
    "JudgeProfile",
    "JudgeRequest",
    "LocalLlamaBackend",
    "load_profile",
    "pairwise_messages",
    "pointwise_messages",
    # building rubrics
    "GenerateOutcome",
    "RefineResult",
    "RefineSettings",
    "generate_rubrics",
    "refine_rubric",
    # rewards for trainers
    "TrlReward",
    "trl_criterion_rewards",
    "trl_reward",
    "verl_batch_compute_score_legacy",
    "verl_compute_score",
    # errors
    "InputError",
    "JudgeCrashed",
    "JudgeError",
]
__version__ = "0.1.0"
