"""judgekit: turn rubrics into rewards.

The public API is the names below; everything else is internal and may change. The package reads
bottom to top: rubric -> data -> llm (model calls) -> protocol (prompts and answers) -> judging ->
authoring (building rubrics) -> Judge -> Panel, rl (trainer rewards), evaluation -> cli.
"""

from typing import TYPE_CHECKING

from judgekit.authoring.generate import GenerateOutcome, generate_rubrics
from judgekit.config import JudgeConfig
from judgekit.data.datasets import EvalPair, read_pairs
from judgekit.data.rows import DataRow, InputRow, read_data, read_jsonl
from judgekit.errors import InputError, JudgeCrashed, JudgeError
from judgekit.judge import Judge, rank_group
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

if TYPE_CHECKING:
    from judgekit.authoring.refine import RefineResult, RefineSettings, refine_rubric

_REFINE = frozenset({"RefineResult", "RefineSettings", "refine_rubric"})


def __getattr__(name: str) -> object:
    # refine needs numpy and networkx: loaded on first use, so that `import judgekit` stays quick
    if name in _REFINE:
        from judgekit.authoring import refine

        return getattr(refine, name)
    raise AttributeError(f"module 'judgekit' has no attribute {name!r}")


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
