"""The reward options every trainer adapter shares (TRL, verl, `judgekit serve`): the strategy that
judges completions, the shaping of their rewards, the reference column, strictness, and the number
that stands in for a missing reward where a trainer needs a number."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from judgekit.errors import InputError
from judgekit.judge import JudgeLike
from judgekit.judging.attacks import FAMILIES
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

    # ---- guards against reward hacking (judgekit.rl.guards; all off by default) ----
    canary_rate: float = 0.0
    """Share (0 to 1) of each batch's prompts also judged with attack responses, their false-positive
    rate per family logged (`judgekit/canary_fpr/<family>`), never part of a policy reward."""

    canary_families: tuple[str, ...] | None = None
    """The attack families of judgekit.judging.attacks the canaries use (None: all built-in ones)."""

    canary_max_fpr: float | None = None
    """A batch where any family's canary false-positive rate exceeds this has no rewards (masked, counted, logged)."""

    audit_judge: JudgeLike | None = None
    """A second judge (spec string, JudgeSpec, panel or Judge) that also judges `audit_rate` of the responses."""

    audit_rate: float = 0.0
    """Share (0 to 1) of responses also judged by `audit_judge`; agreement and reward gap logged."""

    rubric_dropout: float = 0.0
    """Share (0 to 1) of the rubric's non-gate criteria left out per prompt group, the same for the group."""

    guard_seed: int = 0
    """Seeds which prompts get canaries, which responses are audited and which criteria are dropped."""

    def __post_init__(self) -> None:
        check_strategy(self.strategy, field="strategy")
        if self.adaptive is not None and self.strategy == "pointwise":
            raise InputError("adaptive (a meta-rubric) writes criteria for each compared pair: it needs strategy "
                             "anchor or round_robin, not pointwise", field="adaptive")
        self._check_guards()
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

    def _check_guards(self) -> None:
        for name in ("canary_rate", "audit_rate", "rubric_dropout", "canary_max_fpr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and finite(value) and 0 <= value <= 1):
                raise InputError(f"{name} is a share from 0 to 1, got {value!r}", field=name)
        if self.canary_families is not None:
            unknown = [f for f in self.canary_families if f not in FAMILIES]
            if unknown or not self.canary_families:
                raise InputError(f"unknown canary family {', '.join(map(repr, unknown)) or '(none given)'}; known: "
                                 f"{', '.join(FAMILIES)}", field="canary_families")
        if self.audit_rate > 0 and self.audit_judge is None:
            raise InputError("audit_rate needs an audit_judge (a spec string, JudgeSpec or Judge)", field="audit_judge")

    @property
    def families(self) -> tuple[str, ...]:
        """The canary families in use."""
        return tuple(FAMILIES) if self.canary_families is None else self.canary_families

    @classmethod
    def of(cls, *, strategy: str = "pointwise", normalize: bool = False, clip: tuple[float, float] | None = None,
           veto_penalty: float | None = None, length_debias: bool = False, reference_column: str | None = None,
           strict: bool = False, unscored_reward: float = 0.0, par: bool = False,
           par_reference_reward: float | None = None, panel_reward: str = "votes", panel_k: float = 1.0,
           adaptive: MetaRubric | str | Path | None = None, **guards: Any) -> RewardOptions:
        """The options from the flat keywords the adapters' functions take (a strategy name checked here)."""
        shaping = Shaping(normalize=normalize, clip=clip, veto_penalty=veto_penalty, length_debias=length_debias)
        return cls(strategy=check_strategy(strategy, field="strategy"), shaping=shaping, reference_column=reference_column,
                   strict=strict, unscored_reward=unscored_reward, par=par, par_reference_reward=par_reference_reward,
                   panel_reward=panel_reward, panel_k=panel_k,  # type: ignore[arg-type]  # checked in __post_init__
                   adaptive=None if adaptive is None else load_meta_rubric(adaptive), **guard_options(guards))



GUARD_OPTIONS = ("canary_rate", "canary_families", "canary_max_fpr", "audit_judge", "audit_rate", "rubric_dropout", "guard_seed")


def guard_options(given: dict[str, Any]) -> dict[str, Any]:
    """The guard options among keyword arguments (an unknown one is an error naming it); a family list as a tuple."""
    unknown = sorted(set(given) - set(GUARD_OPTIONS))
    if unknown:
        raise InputError(f"unknown reward option {unknown[0]!r}; the guard options: {', '.join(GUARD_OPTIONS)}", field=unknown[0])
    out = dict(given)
    families = out.get("canary_families")
    if isinstance(families, str):
        out["canary_families"] = tuple(f.strip() for f in families.split(",") if f.strip())
    elif families is not None:
        out["canary_families"] = tuple(families)
    return out
