"""judgekit as verl's reward function.

From verl 0.7.1 on (tested: 0.9.1) every reward goes through verl's reward loop: a reward manager
calls `compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)` once per
response. The `naive` manager (the default) awaits it when it is an `async def`, else it takes a
thread-pool call per response; the `remote` manager pickles it into Ray actors and calls it
synchronously. verl loads the function by path and name and passes
`reward.custom_reward_function.reward_kwargs` as keyword arguments, so the rubric and the judge are
settings here: the Judge is built on the first call in the process that calls, once per process and
settings, and nothing but the settings is ever pickled.

- `compute_score` (async: naive, dapo, gdpo, limited managers) and `compute_score_sync` (remote manager):
  `reward.custom_reward_function.path=pkg://judgekit.rl.verl`, `name=compute_score`.
- `verl_compute_score(rubric, judge)`: the same from Python, with a Judge of this process, or a
  JudgeSpec or spec string (then picklable and built lazily, like `compute_score`).
- `verl_batch_compute_score_legacy(rubric, judge)`: the batch form for the `batch` reward manager of
  verl 0.6 and earlier (gone from 0.7.1 on).

verl needs a number for every response. A response without a reward (the coverage rule; a failing
or hanging judge) gets `unscored_reward` (0.0 by default; `unscored_score`, its former name, is still
read), is counted on the `judgekit` logger, and
says so in its dict: `judgekit_unscored: 1.0` and `judgekit_unscored_reason`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from judgekit.data.transcript import Text
from judgekit.errors import InputError
from judgekit.judge import Judge, JudgeLike, JudgeSpec, judge_or_spec
from judgekit.rl.options import GUARD_OPTIONS, RewardOptions
from judgekit.rl.rewards import BatchRewards, RewardScorer, UnscoredTally, refuse_reserved_ids
from judgekit.rubric.meta import MetaRubric
from judgekit.rubric.models import Rubric, RubricLike, empty_rubric, load_rubric
from judgekit.secrets import redact

logger = logging.getLogger("judgekit")

VerlScore = float | dict[str, float | str | None]  # the score, or with return_dict the score and its parts
VERL_KEYS = frozenset({"scored", "unscored", "unscored_reason", "coverage"})
_PROMPT_KEYS = ("prompt", "question", "query", "problem", "instruction", "input")
NO_GROUND_TRUTH = "no ground_truth: the anchor strategy compares each response with its ground_truth"
# What verl's reward managers add to each call when a reward model is configured: not settings.
_VERL_CALL_KEYS = frozenset({"reward_router_address", "reward_model_tokenizer"})


class VerlRewardSettings(BaseModel):
    """What `reward_kwargs` may hold. `judge` is a spec string, with `base_url` and every other key a
    Judge setting (JudgeConfig: concurrency, profile, min_coverage, timeout, max_attempts,
    criteria_per_call, cache, ...), all gathered into one JudgeSpec; or a JudgeSpec itself (its data:
    a panel's `judges` and `aggregate` too). API keys come from the environment (OPENAI_API_KEY, ...),
    never from here: verl prints its config."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    judge: JudgeSpec
    """The judge, described."""
    rubric: str | Rubric | None = None
    """A rubric YAML file (the same path on every node); None: each row's `extra_info` has its own."""
    unscored_reward: float | None = None
    """The score of a response without a reward (verl needs a number; 0.0 unless set); counted and reported."""
    unscored_score: float | None = None
    """Deprecated: the former name of `unscored_reward` (still read; give one of the two)."""
    return_dict: bool = True
    """`{"score", "judgekit_scored", "judgekit_unscored", ...}`; False: the bare score."""
    strict: bool = False
    clip: tuple[float, float] | None = None
    veto_penalty: float | None = None
    par: bool = False
    par_reference_reward: float | None = None
    panel_reward: str = "votes"
    panel_k: float = 1.0
    # ---- pair-adaptive rubrics (OpenRS PAMR): one response per call, so `anchor` (against ground_truth) ----
    strategy: Literal["pointwise", "anchor"] = "pointwise"
    """pointwise, or anchor: each response compared with its ground_truth (none: unscored)."""
    adaptive: str | MetaRubric | None = None
    """A meta-rubric YAML file (or MetaRubric), with strategy anchor: criteria written for each (response,
    ground_truth) pair; then `rubric` may be absent."""
    # the guards (judgekit.rl.guards), checked by RewardOptions
    canary_rate: float = 0.0
    canary_families: str | list[str] | None = None
    canary_max_fpr: float | None = None
    audit_judge: JudgeSpec | None = None
    audit_rate: float = 0.0
    rubric_dropout: float = 0.0
    guard_seed: int = 0

    def guards(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in GUARD_OPTIONS}

    def reward_options(self) -> tuple[RewardOptions, str]:
        """The reward options, and the stand-in as the log names it."""
        stand_in, label = unscored_stand_in(self.unscored_reward, self.unscored_score)
        options = RewardOptions.of(clip=self.clip, veto_penalty=self.veto_penalty, strict=self.strict, unscored_reward=stand_in,
                                   par=self.par, par_reference_reward=self.par_reference_reward,
                                   panel_reward=self.panel_reward, panel_k=self.panel_k,
                                   strategy=self.strategy, adaptive=self.adaptive, **self.guards())
        return options, label

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> VerlRewardSettings:
        """The settings among a call's keyword arguments; a bad one is an InputError naming it."""
        given = {k: _plain(v) for k, v in kwargs.items() if k not in _VERL_CALL_KEYS}
        own = {k: given.pop(k) for k in list(given) if k in cls.model_fields}
        if "judge" in own:  # one JudgeSpec: the one given (or a spec string), with the settings given beside it
            own["judge"] = _spec_data(own["judge"], given)
        if own.get("audit_judge") is not None:
            own["audit_judge"] = _spec_data(own["audit_judge"], {})
        try:
            return cls.model_validate(own)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = [str(p) for p in first["loc"]]
            loc = loc[2:] if loc[:2] == ["judge", "config"] and len(loc) > 2 else loc[1:] if loc[:1] == ["judge"] and len(loc) > 1 else loc
            raise InputError(f"{first['msg'].removeprefix('Value error, ')} (verl's reward_kwargs or compute_score's arguments)",
                             field=".".join(loc) or "reward_kwargs") from None


def _spec_data(judge: object, settings: Mapping[str, object]) -> dict[str, object]:
    """A JudgeSpec's data: `judge` (a spec string, a JudgeSpec or its data) with `settings` (base_url and
    JudgeConfig's fields, verl's reward_kwargs beside it) in place of its own."""
    if isinstance(judge, JudgeSpec):
        data: dict[str, Any] = judge.model_dump(exclude_unset=True)
    elif isinstance(judge, dict):
        data = dict(judge)
    else:
        data = {"judge": judge}
    if not settings:
        return data
    config = {k: v for k, v in settings.items() if k != "base_url"}
    if "base_url" in settings:
        data["base_url"] = settings["base_url"]
    return {**data, "config": {**dict(data.get("config") or {}), **config}}


def _plain(value: object) -> object:
    """verl's config values (omegaconf ListConfig, DictConfig) as the plain list or dict pydantic reads."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def unscored_stand_in(unscored_reward: float | None, unscored_score: float | None) -> tuple[float, str]:
    """The number for a response without a reward (0.0 unless given), and how the log names it: by the key
    it was given under (`unscored_score`: the former name of `unscored_reward`, still read)."""
    if unscored_reward is not None and unscored_score is not None:
        raise InputError("give unscored_reward or its former name unscored_score, not both", field="unscored_score")
    key, value = ("unscored_score", unscored_score) if unscored_score is not None else ("unscored_reward", unscored_reward or 0.0)
    return value, f"{key}={value}"


@dataclass
class _Session:
    """One scorer and its judge in this process: a response judged, counted and presented."""

    scorer: RewardScorer
    tally: UnscoredTally
    return_dict: bool
    warned_no_prompt: bool = False

    @classmethod
    def build(cls, rubric: RubricLike | None, judge: Judge, options: RewardOptions, *, return_dict: bool,
              label: str) -> _Session:
        scorer = RewardScorer(rubric, judge, options)
        if return_dict:
            refuse_reserved_ids(scorer.rubric, VERL_KEYS, "judgekit_{}")
        return cls(scorer, UnscoredTally(label), return_dict)

    def inputs(self, infos: Sequence[object]) -> tuple[list[Text], list[dict[str, Any]]]:
        rows = [dict(info) if isinstance(info, dict) else {} for info in infos]
        prompts = [_prompt_of(row) for row in rows]
        if not self.warned_no_prompt and any(p is None for p in prompts):
            self.warned_no_prompt = True
            logger.warning("judgekit: a row's extra_info has no prompt (any of %s): the judge sees the response "
                           "without its question", ", ".join(_PROMPT_KEYS))
        return ["" if p is None else p for p in prompts], rows

    async def ascore(self, solutions: Sequence[str], truths: Sequence[object], infos: Sequence[object]) -> BatchRewards:
        prompts, rows = self.inputs(infos)
        result = await self.scorer.score_batch(prompts, list(solutions), references=list(truths), rows=rows)
        self.tally.note(result)
        return result

    async def one(self, solution: str, truth: object, info: object) -> BatchRewards:
        """One response of a per-call compute_score. Under the anchor strategy it is compared with its
        ground_truth; without one it is unscored, never the 0.5 of a tie with itself."""
        if self.scorer.options.strategy == "anchor" and truth is None:
            ids = list(self.scorer.rubric.ids) if self.scorer.rubric is not None else []
            result = BatchRewards([None], [None], [dict.fromkeys(ids)], [{"*": NO_GROUND_TRUTH}],
                                  [self.scorer.rubric or empty_rubric()], 0, ids, [None], [False])
            self.tally.note(result)
            return result
        return await self.ascore([solution], [truth], [info])

    def score(self, solutions: Sequence[str], truths: Sequence[object], infos: Sequence[object]) -> BatchRewards:
        """The same from synchronous code (on the judge's loop)."""
        prompts, rows = self.inputs(infos)
        result = self.scorer.judge.run(self.scorer.score_batch(prompts, list(solutions), references=list(truths), rows=rows))
        self.tally.note(result)
        return result

    def present(self, result: BatchRewards, i: int) -> VerlScore:
        reward = result.rewards[i]
        unscored = result.raw[i] is None or reward is None or math.isnan(reward)
        score = self.scorer.options.unscored_reward if unscored or reward is None else float(reward)
        if not self.return_dict:
            return score
        out: dict[str, float | str | None] = {
            "score": score, "judgekit_scored": 0.0 if unscored else 1.0, "judgekit_unscored": 1.0 if unscored else 0.0,
            "judgekit_unscored_reason": _reason(result, i) if unscored else "",
        }
        if self.scorer.options.strategy == "pointwise":
            out["judgekit_coverage"] = float(result.coverage[i] or 0.0)
        for cid in self.scorer.rubric.ids if self.scorer.rubric is not None else []:
            value = result.scores[i].get(cid)
            out[f"judgekit_{cid}"] = None if value is None else float(value)
        for key in guard_keys(self.scorer.options, self.scorer.rubric):  # the same keys on every response: verl stacks them
            out[key] = result.guards.metrics.get(key)
        return out


def guard_keys(options: RewardOptions, rubric: Rubric | None) -> list[str]:
    """The guards' log keys an adapter reports on every response (None where not measured in its batch)."""
    keys: list[str] = []
    if options.canary_rate > 0:
        keys += [f"judgekit/canary_fpr/{f}" for f in options.families] + ["judgekit/canary_masked"]
    if options.audit_rate > 0:
        keys += [f"judgekit/audit_agreement/{cid}" for cid in (rubric.ids if rubric is not None else [])]
        keys += ["judgekit/audit_agreement/reward", "judgekit/audit_reward_gap", "judgekit/audit_failed"]
    if options.rubric_dropout > 0:
        keys.append("judgekit/rubric_dropout/kept")
    return keys


def _prompt_of(row: dict[str, Any]) -> Text | None:
    return next((row[key] for key in _PROMPT_KEYS if row.get(key) is not None), None)


def _reason(result: BatchRewards, i: int) -> str:
    """Why a response has no reward: its first unscored criterion's reason, else the coverage rule."""
    for cid, why in result.unscored[i].items():
        return redact(f"{cid}: {why}")[:300]
    coverage = result.coverage[i] if result.coverage else None
    return "below the coverage bar" + (f" (coverage {coverage:.2f})" if coverage is not None else "")


# ---- verl 0.7.1 and later: one response per call, settings in reward_kwargs ----------------------


_SESSIONS: dict[tuple[int, str], _Session] = {}  # (process id, settings): built on first use


def _session_for(kwargs: dict[str, Any]) -> _Session:
    settings = VerlRewardSettings.from_kwargs(kwargs)
    key = (os.getpid(), settings.model_dump_json())
    found = _SESSIONS.get(key)
    if found is None:
        judge = settings.judge.build()
        options, label = settings.reward_options()
        found = _SESSIONS.setdefault(key, _Session.build(settings.rubric, judge, options, return_dict=settings.return_dict,
                                                         label=label))
    return found


async def compute_score(data_source: str, solution_str: str, ground_truth: object, extra_info: object = None,
                        **kwargs: Any) -> VerlScore:
    """verl's `compute_score`, awaited by its reward managers. The keyword arguments (verl's
    `reward_kwargs`) are the settings: `judge` (required), `rubric`, `base_url`, `unscored_reward`
    (or its former name `unscored_score`), `return_dict`, `strict`, `clip`, `veto_penalty`, `par`,
    `par_reference_reward`, `panel_reward`, `panel_k`, `strategy` (pointwise, or anchor: against
    `ground_truth`) with `adaptive` (a meta-rubric YAML: criteria written per pair), the guards (`canary_rate`,
    `canary_families`, `canary_max_fpr`, `audit_judge`, `audit_rate`, `rubric_dropout`, `guard_seed`), and any Judge
    setting."""
    session = _session_for(kwargs)
    return session.present(await session.one(solution_str, ground_truth, extra_info), 0)


def compute_score_sync(data_source: str, solution_str: str, ground_truth: object, extra_info: object = None,
                       **kwargs: Any) -> VerlScore:
    """`compute_score` for callers that do not await: verl's `remote` reward manager refuses an
    `async def` (it calls the function in Ray actors)."""
    session = _session_for(kwargs)
    return session.present(session.scorer.judge.run(session.one(solution_str, ground_truth, extra_info)), 0)


def close_judges() -> None:
    """Close the judges this process built for `compute_score` (the next call builds them again)."""
    sessions = [s for (pid, _), s in _SESSIONS.items() if pid == os.getpid()]
    _SESSIONS.clear()
    for session in sessions:
        session.scorer.judge.close()
        if session.scorer.auditor is not None:
            session.scorer.auditor.close()


def verl_compute_score(
    rubric: RubricLike | None,
    judge: JudgeLike,
    *,
    return_dict: bool = True,
    unscored_reward: float | None = None,
    clip: tuple[float, float] | None = None,
    veto_penalty: float | None = None,
    strict: bool = False,
    unscored_score: float | None = None,
    par: bool = False,
    par_reference_reward: float | None = None,
    panel_reward: str = "votes",
    panel_k: float = 1.0,
    strategy: str = "pointwise",
    adaptive: MetaRubric | str | Path | None = None,
    **judge_options: Any,
) -> Callable[..., Awaitable[VerlScore]]:
    """A `compute_score` for verl's reward loop: `async def (data_source, solution_str,
    ground_truth, extra_info=None, **kwargs)`.

    `judge` a Judge: the function uses it (in this process only: it cannot be pickled). `judge` a
    JudgeSpec (a panel's too), or a spec string such as `openai:Qwen/Qwen3-8B` with `base_url=` and any
    Judge setting in `judge_options` (a shorthand for its JudgeSpec): `compute_score` with these
    settings bound (a `functools.partial`), picklable, its Judge built on first use in each process
    that calls it. The prompt is
    `extra_info["prompt"]` (or question, query, problem, instruction, input); the reference is
    `ground_truth`; `extra_info` may carry a row rubric (rubric / rubrics / score_rubric).

    A response without a reward scores `unscored_reward` (0.0 unless set; `unscored_score` is its
    former name, still read), is counted on the `judgekit` logger (at
    the 1st, 10th, 100th, ...), and with `return_dict` its dict says `judgekit_unscored: 1.0` and
    `judgekit_unscored_reason`. The dict has the same keys for every response (verl stacks them):
    `score`, `judgekit_scored`, `judgekit_unscored`, `judgekit_unscored_reason` ("" when scored),
    `judgekit_coverage`, and for the fixed rubric `judgekit_<criterion_id>` (1.0 MET, 0.0 UNMET,
    None unscored).
    """
    _per_call(strategy)
    guards = {k: judge_options.pop(k) for k in GUARD_OPTIONS if k in judge_options}
    described = judge_or_spec(judge, call="verl_compute_score()", base_url=judge_options.pop("base_url", None),
                              settings=judge_options, arguments=_ARGUMENTS)
    if isinstance(described, Judge):
        value, label = unscored_stand_in(unscored_reward, unscored_score)
        options = RewardOptions.of(clip=clip, veto_penalty=veto_penalty, strict=strict, unscored_reward=value, par=par,
                                   par_reference_reward=par_reference_reward, panel_reward=panel_reward, panel_k=panel_k,
                                   strategy=strategy, adaptive=adaptive, **guards)
        session = _Session.build(rubric, described, options, return_dict=return_dict, label=label)

        async def judgekit_compute_score(data_source: str, solution_str: str, ground_truth: object, extra_info: object = None,
                                         **kwargs: Any) -> VerlScore:
            return session.present(await session.one(solution_str, ground_truth, extra_info), 0)

        judgekit_compute_score.__name__ = judgekit_compute_score.__qualname__ = "compute_score"
        return judgekit_compute_score
    stand_in = {k: v for k, v in (("unscored_reward", unscored_reward), ("unscored_score", unscored_score)) if v is not None}
    settings: dict[str, Any] = {"judge": described, "rubric": str(rubric) if isinstance(rubric, Path) else rubric,
                                "return_dict": return_dict, **stand_in, "clip": clip, "veto_penalty": veto_penalty, "strict": strict,
                                "par": par, "par_reference_reward": par_reference_reward, "panel_reward": panel_reward,
                                "panel_k": panel_k, "strategy": strategy,
                                "adaptive": str(adaptive) if isinstance(adaptive, Path) else adaptive, **guards}
    checked = VerlRewardSettings.from_kwargs(settings)
    checked.reward_options()  # fail here, not in the first training step
    if return_dict and checked.rubric is not None:
        refuse_reserved_ids(load_rubric(checked.rubric) if isinstance(checked.rubric, str) else checked.rubric,
                            VERL_KEYS, "judgekit_{}")
    return functools.partial(compute_score, **settings)


def _per_call(strategy: str) -> str:
    """One response per call: round_robin would rank a group of one (every reward 0.5)."""
    if strategy == "round_robin":
        raise InputError("strategy round_robin needs a prompt's group, but this compute_score judges one response per call: "
                         "use anchor (against ground_truth), or the batch form", field="strategy")
    return strategy


# verl_compute_score()'s own arguments, offered for a misspelled one besides JudgeConfig's fields.
_ARGUMENTS = ("rubric", "judge", "base_url", "return_dict", "unscored_reward", "clip", "veto_penalty", "strict", "unscored_score",
              "strategy", "adaptive", *GUARD_OPTIONS)


# ---- verl 0.6 and earlier: the `batch` reward manager ---------------------------------------------


def verl_batch_compute_score_legacy(
    rubric: RubricLike | None,
    judge: Judge,
    *,
    return_dict: bool = True,
    unscored_reward: float | None = None,
    strategy: str = "pointwise",
    normalize: bool = False,
    clip: tuple[float, float] | None = None,
    veto_penalty: float | None = None,
    length_debias: bool = False,
    strict: bool = False,
    unscored_score: float | None = None,
    par: bool = False,
    par_reference_reward: float | None = None,
    panel_reward: str = "votes",
    panel_k: float = 1.0,
    adaptive: MetaRubric | str | Path | None = None,
    **guards: Any,
) -> Callable[..., list[VerlScore]]:
    """The batch form, for `reward_model.reward_manager=batch` of verl 0.6 and earlier (verl
    0.7.1 and later have no batch manager: "Unknown reward manager: batch"):
    `compute_score(data_sources, solution_strs, ground_truths, extra_infos, **kwargs) -> list`,
    the batch judged concurrently. Besides the options of `verl_compute_score`, the group options:
    `strategy` (anchor, round_robin), `normalize` and `length_debias`, over the completions with the
    same prompt and ground truth, and `adaptive` (a meta-rubric, with anchor or round_robin: criteria
    written for each compared pair; then `rubric` may be None)."""
    value, label = unscored_stand_in(unscored_reward, unscored_score)
    options = RewardOptions.of(strategy=strategy, normalize=normalize, clip=clip, veto_penalty=veto_penalty,
                               length_debias=length_debias, strict=strict, unscored_reward=value, par=par,
                               par_reference_reward=par_reference_reward, panel_reward=panel_reward, panel_k=panel_k,
                               adaptive=adaptive, **guards)
    session = _Session.build(rubric, judge, options, return_dict=return_dict, label=label)

    def compute_score(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[object],
                      extra_infos: Sequence[object] | None = None, **kwargs: Any) -> list[VerlScore]:
        infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
        result = session.score(list(solution_strs), list(ground_truths), infos)
        return [session.present(result, i) for i in range(len(solution_strs))]

    return compute_score
