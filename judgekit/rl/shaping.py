"""Reward shaping for RL trainers, as pure functions (no model, no I/O).

Every function takes a list of rewards where `None` means unscored, and keeps `None` where it was:
an unscored completion is never turned into a number here. All are off by default in judgekit's
adapters; `Shaping` names the options and `shape_rewards` applies them in one fixed order:

0. PAR           preference as reward: sigmoid(r - r_ref) against a reference reward (RewardOptions.par);
1. veto penalty   a completion whose hard rule is UNMET gets `veto_penalty` instead of 0;
2. length debias  within each prompt group, remove the linear trend of reward on log(1 + words);
3. group normalise within each prompt group, (r - mean) / (std + eps);
4. clip           to [low, high].
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from judgekit.errors import InputError

Rewards = Sequence[float | None]


@dataclass(frozen=True, kw_only=True)
class Shaping:
    """Which shaping steps run (all off by default: the reward is the rubric formula, in [0, 1]).
    Keyword arguments only: `Shaping(normalize=True, clip=(-1, 1))`."""

    normalize: bool = False
    """Group normalisation per prompt: (r - mean) / (std + eps). TRL, verl's GRPO and OpenRLHF's
    group estimators already normalise advantages per group; turn this on only for an algorithm that
    does not (e.g. plain REINFORCE on the reward)."""

    eps: float = 1e-6
    """Added to the group's standard deviation (population std) in normalisation."""

    clip: tuple[float, float] | None = None
    """Clip the final reward to (low, high); applied last."""

    veto_penalty: float | None = None
    """A hard-rule veto gives this reward (e.g. -1.0) instead of 0, so a veto costs more than a
    response that merely meets nothing."""

    length_debias: bool = False
    """Per prompt group, regress reward on log(1 + word count) by least squares and remove the slope
    (the group mean is kept). Counters a judge's preference for longer answers."""

    def __post_init__(self) -> None:
        # nan passes every comparison: a clip of (nan, 1) made every reward 1.0.
        if self.clip is not None:
            if len(self.clip) != 2 or not all(finite(b) for b in self.clip):
                raise InputError(f"clip takes two finite numbers (low, high), got {self.clip!r}", field="clip")
            if self.clip[0] > self.clip[1]:
                raise InputError(f"clip bounds are reversed: {self.clip!r}", field="clip")
            object.__setattr__(self, "clip", (float(self.clip[0]), float(self.clip[1])))  # a list, ints: one form
        if self.veto_penalty is not None and not finite(self.veto_penalty):
            raise InputError(f"veto_penalty must be a finite number, got {self.veto_penalty!r}", field="veto_penalty")
        if not (finite(self.eps) and self.eps > 0):
            raise InputError(f"eps must be a finite number above 0, got {self.eps!r}", field="eps")

    @property
    def needs_groups(self) -> bool:
        return self.normalize or self.length_debias


def finite(value: object) -> bool:
    """A real number (not a bool), neither nan nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def group_indices(keys: Sequence[Hashable]) -> list[list[int]]:
    """Positions grouped by key, groups in order of first appearance."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _scored(rewards: Rewards, idx: Sequence[int]) -> list[int]:
    return [i for i in idx if rewards[i] is not None and not math.isnan(float(rewards[i]))]  # type: ignore[arg-type]


def group_normalize(rewards: Rewards, keys: Sequence[Hashable], eps: float = 1e-6) -> list[float | None]:
    """(r - mean) / (std + eps) within each group of equal key, over the group's scored rewards."""
    out: list[float | None] = list(rewards)
    for idx in group_indices(keys):
        scored = _scored(rewards, idx)
        if not scored:
            continue
        values = [float(rewards[i]) for i in scored]  # type: ignore[arg-type]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        for i, v in zip(scored, values):
            out[i] = (v - mean) / (std + eps)
    return out


def clip_rewards(rewards: Rewards, low: float, high: float) -> list[float | None]:
    if low > high:
        raise ValueError(f"clip bounds are reversed: low {low} > high {high}")
    return [None if r is None else min(high, max(low, float(r))) for r in rewards]


def veto_penalty(rewards: Rewards, vetoed: Sequence[bool], penalty: float) -> list[float | None]:
    """Replace the reward of each vetoed (hard rule UNMET) completion by `penalty`."""
    return [penalty if (v and r is not None) else r for r, v in zip(rewards, vetoed, strict=True)]


def length_debias(rewards: Rewards, lengths: Sequence[int], keys: Sequence[Hashable]) -> list[float | None]:
    """Remove, per group, the least-squares slope of reward on x = log(1 + length).

    r'_i = r_i - b * (x_i - mean(x)), with b = cov(x, r) / var(x) over the group's scored items.
    The group mean is unchanged. Groups with fewer than 3 scored items, or all of one length, are
    left as they are.
    """
    out: list[float | None] = list(rewards)
    for idx in group_indices(keys):
        scored = _scored(rewards, idx)
        if len(scored) < 3:
            continue
        xs = [math.log1p(max(0, lengths[i])) for i in scored]
        ys = [float(rewards[i]) for i in scored]  # type: ignore[arg-type]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        if var <= 1e-12:
            continue
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
        for i, x, y in zip(scored, xs, ys):
            out[i] = y - slope * (x - mx)
    return out


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def preference_as_reward(rewards: Rewards, references: Rewards) -> list[float | None]:
    """PAR (Fu et al., "Reward Shaping to Mitigate Reward Hacking in RLHF"): sigmoid(r - r_ref), the
    probability under Bradley-Terry that the response beats the reference. Bounded in (0, 1) and
    centred: 0.5 for a response as good as the reference. None where either reward is None."""
    return [None if r is None or ref is None else sigmoid(float(r) - float(ref))
            for r, ref in zip(rewards, references, strict=True)]


def mean_minus_std(rewards: Sequence[float], k: float) -> float:
    """A conservative reward from an ensemble's rewards (Coste et al., "Reward Model Ensembles Help
    Mitigate Overoptimization"): mean - k * std, the population standard deviation."""
    mean = sum(rewards) / len(rewards)
    return mean - k * math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))


def shape_rewards(
    rewards: Rewards,
    shaping: Shaping,
    *,
    keys: Sequence[Hashable] | None = None,
    vetoed: Sequence[bool] | None = None,
    lengths: Sequence[int] | None = None,
    par_references: Rewards | None = None,
) -> list[float | None]:
    """Apply the options of `shaping` in the documented order. `keys` group completions by prompt;
    `par_references`: each completion's reference reward, for PAR (first, on the rubric's reward)."""
    out: list[float | None] = list(rewards) if par_references is None else preference_as_reward(rewards, par_references)
    n = len(out)
    keys = list(keys) if keys is not None else [0] * n
    if shaping.veto_penalty is not None and vetoed is not None:
        out = veto_penalty(out, vetoed, shaping.veto_penalty)
    if shaping.length_debias:
        if lengths is None:
            raise ValueError("length_debias needs the completions' lengths")
        out = length_debias(out, lengths, keys)
    if shaping.normalize:
        out = group_normalize(out, keys, shaping.eps)
    if shaping.clip is not None:
        out = clip_rewards(out, *shaping.clip)
    return out


def word_count(text: str) -> int:
    return len(text.split())
