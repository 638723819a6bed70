"""The reward options every trainer adapter shares (TRL, verl, `judgekit serve`): the strategy that
judges completions, the shaping of their rewards, the reference column, strictness, and the number
that stands in for a missing reward where a trainer needs a number."""

from __future__ import annotations

from dataclasses import dataclass, field

from judgekit.errors import InputError
from judgekit.judging.ranking import Strategy, check_strategy
from judgekit.rl.shaping import Shaping, finite


@dataclass(frozen=True, kw_only=True)
class RewardOptions:
    """How completions become rewards, as data (frozen, picklable): what TRL's, verl's and the reward
    server's adapters all take."""

    strategy: Strategy = "pointwise"
    """pointwise (each completion against the rubric), anchor or round_robin (a prompt's completions together)."""

    shaping: Shaping = field(default_factory=Shaping)
    """The shaping steps applied last (judgekit.rl.shaping; all off by default)."""

    reference_column: str | None = None
    """The row's column holding the reference (None: `reference`, `reference_answer`, `ground_truth`)."""

    strict: bool = False
    """No reward as soon as any criterion is unscored, whatever the Judge's `min_coverage`."""

    unscored_reward: float = 0.0
    """The number sent for a completion without a reward, to trainers that need a number (verl, OpenRLHF);
    counted and reported. TRL gets None instead."""

    def __post_init__(self) -> None:
        check_strategy(self.strategy, field="strategy")
        # nan or inf cannot be sent as JSON, and would poison a trainer's mean.
        if not finite(self.unscored_reward):
            raise InputError(f"unscored_reward must be a finite number, got {self.unscored_reward!r}", field="unscored_reward")

    @classmethod
    def of(cls, *, strategy: str = "pointwise", normalize: bool = False, clip: tuple[float, float] | None = None,
           veto_penalty: float | None = None, length_debias: bool = False, reference_column: str | None = None,
           strict: bool = False, unscored_reward: float = 0.0) -> RewardOptions:
        """The options from the flat keywords the adapters' functions take (a strategy name checked here)."""
        shaping = Shaping(normalize=normalize, clip=clip, veto_penalty=veto_penalty, length_debias=length_debias)
        return cls(strategy=check_strategy(strategy, field="strategy"), shaping=shaping, reference_column=reference_column,
                   strict=strict, unscored_reward=unscored_reward)
