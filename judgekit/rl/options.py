"""The reward options every trainer adapter shares (TRL, verl, `judgekit serve`): the strategy that
judges completions, the shaping of their rewards, the reference column, strictness, and the number
that stands in for a missing reward where a trainer needs a number."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from judgekit.errors import InputError
from judgekit.judging.ranking import Strategy, check_strategy
from judgekit.rl.shaping import Shaping, finite
from judgekit.rubric.meta import MetaRubric, load_meta_rubric

PanelReward = Literal["votes", "mean_minus_std"]


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

    par: bool = False
    """PAR shaping: sigmoid(reward - reference reward), in (0, 1), 0.5 as good as the reference. The
    reference reward is `par_reference_reward`, else the row's reference response judged with the
    same rubric (no reference or no reward for it: no reward, with the reason)."""

    par_reference_reward: float | None = None
    """The reference reward PAR compares with (None: judge the row's reference response)."""

    panel_reward: PanelReward = "votes"
    """A panel judge's reward: `votes` (its verdicts aggregated per criterion, then one reward) or
    `mean_minus_std` (each judge's reward from its own verdicts, then mean - panel_k * std)."""

    panel_k: float = 1.0
    """How many standard deviations of the judges' rewards `mean_minus_std` takes off their mean."""

    # ---- pair-adaptive rubrics (OpenRS PAMR) ----
    adaptive: MetaRubric | None = None
    """A meta-rubric: the judge writes the criteria that separate each pair the group strategy compares
    (anchor, round_robin), once per distinct pair of texts; with it the rubric may be absent (the
    written criteria only)."""

    def __post_init__(self) -> None:
        check_strategy(self.strategy, field="strategy")
        if self.adaptive is not None and self.strategy == "pointwise":
            raise InputError("adaptive (a meta-rubric) writes criteria for each compared pair: it needs strategy "
                             "anchor or round_robin, not pointwise", field="adaptive")
        # nan or inf cannot be sent as JSON, and would poison a trainer's mean.
        if not finite(self.unscored_reward):
            raise InputError(f"unscored_reward must be a finite number, got {self.unscored_reward!r}", field="unscored_reward")
        if self.par_reference_reward is not None and not finite(self.par_reference_reward):
            raise InputError(f"par_reference_reward must be a finite number, got {self.par_reference_reward!r}",
                             field="par_reference_reward")
        if self.par_reference_reward is not None and not self.par:
            raise InputError("par_reference_reward is the reference of PAR shaping: give par=True too", field="par_reference_reward")
        if self.panel_reward not in get_args(PanelReward):
            raise InputError(f"unknown panel_reward {self.panel_reward!r}; known: {', '.join(get_args(PanelReward))}",
                             field="panel_reward")
        if not (finite(self.panel_k) and self.panel_k >= 0):
            raise InputError(f"panel_k must be a finite number, 0 or above, got {self.panel_k!r}", field="panel_k")
        for name, on in (("par", self.par), ("panel_reward", self.panel_reward != "votes")):
            if on and self.strategy != "pointwise":
                raise InputError(f"{name} needs the pointwise strategy (each response's own reward), not {self.strategy}",
                                 field=name)

    @classmethod
    def of(cls, *, strategy: str = "pointwise", normalize: bool = False, clip: tuple[float, float] | None = None,
           veto_penalty: float | None = None, length_debias: bool = False, reference_column: str | None = None,
           strict: bool = False, unscored_reward: float = 0.0, par: bool = False,
           par_reference_reward: float | None = None, panel_reward: str = "votes", panel_k: float = 1.0,
           adaptive: MetaRubric | str | Path | None = None) -> RewardOptions:
        """The options from the flat keywords the adapters' functions take (a strategy name checked here)."""
        shaping = Shaping(normalize=normalize, clip=clip, veto_penalty=veto_penalty, length_debias=length_debias)
        return cls(strategy=check_strategy(strategy, field="strategy"), shaping=shaping, reference_column=reference_column,
                   strict=strict, unscored_reward=unscored_reward, par=par, par_reference_reward=par_reference_reward,
                   panel_reward=panel_reward, panel_k=panel_k,  # type: ignore[arg-type]  # checked in __post_init__
                   adaptive=None if adaptive is None else load_meta_rubric(adaptive))
