"""judgekit: turn rubrics into rewards.

rubric -> judge requests -> backend -> verdicts -> score vectors -> rewards
"""

from judgekit.errors import InputError, JudgeError
from judgekit.judge import Judge, rank_group
from judgekit.judging.ranking import RankOutcome
from judgekit.judging.results import CompareResult, RankResult, ScoreResult
from judgekit.rl.rewards import trl_criterion_rewards, trl_reward, verl_compute_score
from judgekit.rubric.models import CheckSpec, Criterion, Rubric, load_rubric
from judgekit.judging.scoring import pointwise_reward

__all__ = [
    "CheckSpec",
    "CompareResult",
    "Criterion",
    "InputError",
    "Judge",
    "JudgeError",
    "RankOutcome",
    "RankResult",
    "Rubric",
    "ScoreResult",
    "load_rubric",
    "pointwise_reward",
    "rank_group",
    "trl_criterion_rewards",
    "trl_reward",
    "verl_compute_score",
]
__version__ = "0.1.0"
