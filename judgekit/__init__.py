"""judgekit: turn rubrics into rewards.

rubric -> judge requests -> backend -> verdicts -> score vectors -> rewards
"""

from judgekit.errors import InputError, JudgeError
from judgekit.judge import Judge
from judgekit.results import ScoreResult
from judgekit.rewards import trl_criterion_rewards, trl_reward, verl_compute_score
from judgekit.rubric import CheckSpec, Criterion, Rubric, load_rubric
from judgekit.scoring import pointwise_reward

__all__ = [
    "CheckSpec",
    "Criterion",
    "InputError",
    "Judge",
    "JudgeError",
    "Rubric",
    "ScoreResult",
    "load_rubric",
    "pointwise_reward",
    "trl_criterion_rewards",
    "trl_reward",
    "verl_compute_score",
]
__version__ = "0.1.0"
