"""Rubric rewards for TRL's GRPOTrainer and the experimental AsyncGRPOTrainer.

One form: `TrlReward(rubric, judge)`, an async callable object taking TRL's `(prompts, completions,
completion_ids=None, **kwargs)` and returning `list[float | None]` (`None` for a completion without a
reward; TRL turns it into NaN). Given a judge described (a JudgeSpec, or a spec string such as
`"openai:MODEL"`), it is picklable, for trainers that pickle reward functions into another process
(AsyncGRPOTrainer spawns its rollout worker): it holds the rubric and the JudgeSpec, and builds its
Judge on first call in the process that calls it. Given a Judge of this process, it uses that one (and
cannot be pickled). `TrlReward.per_criterion(...)` gives one per criterion, sharing one Judge and one
judging pass per batch in whatever process they land in together.

- `trl_reward(rubric, judge)`: a `TrlReward` over a Judge, as the plain `async def` TRL's docs show.
- `trl_criterion_rewards(rubric, judge)`: `TrlReward.per_criterion`, each as such a function, for
  `reward_weights` / `multi_objective_aggregation`.

The reference is the column `reference` (or `reference_answer`, `ground_truth`, then `solution`,
TRL's usual name), or `reference_column`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from judgekit.data.transcript import Text
from judgekit.judge import Judge, JudgeLike, JudgeSpec, judge_or_spec
from judgekit.rl.options import RewardOptions
from judgekit.rl.rewards import BatchRewards, RewardScorer
from judgekit.rubric.meta import MetaRubric
from judgekit.rubric.models import Rubric, RubricLike, as_rubric

RewardFunction = Callable[..., Awaitable[list[float | None]]]
TRL_REFERENCE = "solution"  # TRL's datasets (math, code) name the reference so


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "rubric"


class _BatchMemo:
    """Share one judging pass among the reward functions TRL calls concurrently for one batch.

    Keyed on the batch's content (prompts and completions) and the running loop; a few recent
    batches are kept, so the functions of one step find the pass the first of them started.
    """

    def __init__(self, size: int = 4) -> None:
        self._entries: OrderedDict[tuple[int, str], asyncio.Future[BatchRewards]] = OrderedDict()
        self._size = size

    def get(self, key: str, start: Callable[[], Awaitable[BatchRewards]]) -> asyncio.Future[BatchRewards]:
        loop = asyncio.get_running_loop()
        full = (id(loop), key)
        found = self._entries.get(full)
        if found is not None and not (found.done() and (found.cancelled() or found.exception() is not None)):
            self._entries.move_to_end(full)
            return found
        task = asyncio.ensure_future(start())
        self._entries[full] = task
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return task


def _batch_key(prompts: Sequence[Text], completions: Sequence[Text], rows: list[dict[str, Any]]) -> str:
    blob = json.dumps([list(prompts), list(completions), rows], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _trl_rows(n: int, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """TRL passes each dataset column as a list with one value per completion."""
    columns = {k: v for k, v in kwargs.items() if isinstance(v, (list, tuple)) and len(v) == n}
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


class _TrlSession:
    """What the TRL functions made together share: the scorer, the batch memo, the logging."""

    def __init__(self, rubric: Rubric | None, judge: Judge, options: RewardOptions, log: bool) -> None:
        self.scorer = RewardScorer(rubric, judge, options)
        self.memo = _BatchMemo()
        self.log = log

    def reference(self, row: dict[str, Any]) -> object:
        found = self.scorer.reference_of(row)
        if found is None and self.scorer.options.reference_column is None:
            return row.get(TRL_REFERENCE)
        return found

    async def batch(self, prompts: Sequence[Text], completions: Sequence[Text], kwargs: dict[str, Any]) -> BatchRewards:
        n = len(completions)
        rows = _trl_rows(n, kwargs)

        async def run() -> BatchRewards:
            references = [self.reference(r) for r in rows]
            state = kwargs.get("trainer_state")
            step = getattr(state, "global_step", None)
            result = await self.scorer.score_batch(prompts, completions, references=references, rows=rows,
                                                   step=step if isinstance(step, int) else None)
            if self.log:
                _log_to_trl(result, kwargs)
            return result

        result = await self.memo.get(_batch_key(prompts, completions, rows), run)
        if len(result.rewards) != n:  # pragma: no cover - a guard on TRL's contract
            raise RuntimeError(f"judgekit produced {len(result.rewards)} rewards for {n} completions")
        return result

    async def values(self, prompts: Sequence[Text], completions: Sequence[Text], kwargs: dict[str, Any],
                     criterion: str | None) -> list[float | None]:
        """The rewards, or one criterion's values (see criterion_value)."""
        result = await self.batch(prompts, completions, kwargs)
        if criterion is None:
            return list(result.rewards)
        assert self.scorer.rubric is not None  # per-criterion functions need a fixed rubric
        weight = self.scorer.rubric.criterion(criterion).weight
        return [criterion_value(s.get(criterion), weight) for s in result.scores]


def _log_to_trl(result: BatchRewards, kwargs: dict[str, Any]) -> None:
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):
        for cid, mean in result.criterion_means().items():
            log_metric(f"judgekit/{cid}", mean)
        n = max(1, len(result.raw))
        log_metric("judgekit/unscored_frac", sum(r is None for r in result.raw) / n)
        log_metric("judgekit/judged_frac", result.judged / n)
        for name, value in result.guards.metrics.items():  # canaries, audits, dropout (judgekit.rl.guards)
            log_metric(name, value)
    log_extra = kwargs.get("log_extra")
    if callable(log_extra):
        log_extra("judgekit_scores", [json.dumps(s, sort_keys=True) for s in result.scores])


def criterion_value(score: float | None, weight: float) -> float | None:
    """A criterion as a reward where higher is better: MET 1, UNMET 0 (a rated criterion: its
    normalised rating); for a pitfall (negative weight, MET = flaw present) 1 when absent, 0 when
    present (1 - the normalised rating); None when unscored or not applicable."""
    if score is None:
        return None
    return float(score) if weight >= 0 else float(1 - score)


def _label(rubric: Rubric | None, criterion: str | None = None) -> str:
    if criterion is not None:
        return f"judgekit_{criterion}"
    return "judgekit_" + _safe_name(rubric.name if rubric is not None else "row_rubric")


# ---- picklable: for trainers that pickle reward functions into another process ------------------


class _SessionState(TypedDict):
    """What a pickled `_LazySession` keeps: what builds its session, not the session."""

    rubric: Rubric | None
    judge: JudgeSpec | Judge
    options: RewardOptions
    log: bool


class _LazySession:
    """A session built on first use in the process that uses it; pickling keeps only the JudgeSpec, so
    the reward objects that share one in a process share one after unpickling together too. Over a
    Judge of this process (not a spec) it is built at once and cannot be pickled."""

    def __init__(self, rubric: Rubric | None, judge: JudgeSpec | Judge, options: RewardOptions, log: bool) -> None:
        self.rubric, self.judge, self.options, self.log = rubric, judge, options, log
        self._session = _TrlSession(rubric, judge, options, log) if isinstance(judge, Judge) else None
        self._lock = threading.Lock()

    def __getstate__(self) -> _SessionState:
        if isinstance(self.judge, Judge):
            raise TypeError("cannot pickle a TRL reward over a Judge of this process: give TrlReward a judge spec "
                            "(the JudgeSpec is pickled, and the Judge built where the reward is called)")
        return {"rubric": self.rubric, "judge": self.judge, "options": self.options, "log": self.log}

    def __setstate__(self, state: _SessionState) -> None:
        self.__init__(state["rubric"], state["judge"], state["options"], state["log"])  # type: ignore[misc]

    def get(self) -> _TrlSession:
        with self._lock:
            if self._session is None:
                assert isinstance(self.judge, JudgeSpec)
                self._session = _TrlSession(self.rubric, self.judge.build(), self.options, self.log)
            return self._session


class TrlReward:
    """A TRL reward function: `GRPOTrainer(reward_funcs=[TrlReward(...)])`, and `AsyncGRPOTrainer`,
    which pickles reward functions into its spawned rollout worker.

    `TrlReward(rubric, judgekit.JudgeSpec("openai:Qwen/Qwen3-8B", base_url="http://127.0.0.1:8001/v1",
    concurrency=64))`: the Judge is described, not given (checked here), and built on the first call in
    the process that calls it; keys come from that process's environment. `judge` is a spec string, a
    JudgeSpec (a panel's too) or a Judge of this process (then the reward cannot be pickled).
    `base_url=` and `judge_options=` (JudgeConfig's fields) are a shorthand for a spec string's JudgeSpec.
    `criterion` makes it one criterion's value (see
    `trl_criterion_rewards`); `name` is what TRL logs it as.

    The call takes `(prompts, completions, completion_ids=None, **kwargs)` in TRL's standard (strings)
    or conversational (lists of messages) format. A row's own rubric (a dataset column `rubric`,
    `rubrics` or `score_rubric`, in judgekit/HealthBench/RaR/prometheus form, or as a JSON string)
    overrides `rubric`; `rubric=None` requires one on every row. The reference is read from the
    column `reference` (or `reference_answer`, `ground_truth`, `solution`, or `reference_column`).

    Returns exactly one value per completion; `None` (never 0) when the completion has no reward
    under the coverage rule: a hard rule unscored, or less than the Judge's `min_coverage`
    (default 1.0: every criterion) of the rubric's weight scored, or no model-judged criterion
    scored; a hard rule UNMET still gives 0. `strict`: `None` as soon as any criterion is
    unscored, whatever the Judge's `min_coverage` (at the default it adds nothing but
    zero-weight criteria).
    The reward options (judgekit.rl.options.RewardOptions): `strategy`, the shaping `normalize`,
    `clip`, `veto_penalty`, `length_debias` (judgekit.rl.shaping; all off), `reference_column`,
    `strict`, `par` / `par_reference_reward` (PAR against the reference column's response or a given
    reward) and `panel_reward="mean_minus_std"` / `panel_k` (a panel judge's conservative reward).
    `adaptive` (a meta-rubric: a path or MetaRubric; strategy anchor or round_robin): the judge writes
    the criteria that separate each pair of a prompt's completions, once per distinct pair; then
    `rubric` may be None (the written criteria only); the guards `canary_rate`, `canary_families`,
    `canary_max_fpr`, `audit_judge`, `audit_rate`, `rubric_dropout`, `guard_seed` (judgekit.rl.guards; a
    masked batch's rewards are all None).
    With `log`, per-criterion means go to TRL's `log_metric` as `judgekit/<criterion_id>` and the
    per-completion scores to `log_extra` as `judgekit_scores`.
    """

    def __init__(
        self,
        rubric: RubricLike | None,
        judge: JudgeLike = "local",
        *,
        base_url: str | None = None,
        judge_options: Mapping[str, Any] | None = None,
        criterion: str | None = None,
        name: str | None = None,
        strategy: str = "pointwise",
        normalize: bool = False,
        clip: tuple[float, float] | None = None,
        veto_penalty: float | None = None,
        length_debias: bool = False,
        reference_column: str | None = None,
        strict: bool = False,
        log: bool = True,
        par: bool = False,
        par_reference_reward: float | None = None,
        panel_reward: str = "votes",
        panel_k: float = 1.0,
        adaptive: MetaRubric | str | Path | None = None,
        **guards: Any,
    ) -> None:
        loaded = None if rubric is None else as_rubric(rubric, call="TrlReward()")
        options = RewardOptions.of(strategy=strategy, normalize=normalize, clip=clip, veto_penalty=veto_penalty,
                                   length_debias=length_debias, reference_column=reference_column, strict=strict,
                                   par=par, par_reference_reward=par_reference_reward, panel_reward=panel_reward,
                                   panel_k=panel_k, adaptive=adaptive, **guards)
        described = judge_or_spec(judge, call="TrlReward()", base_url=base_url, settings=judge_options,
                                  arguments=("judge_options",))
        self._shared = _LazySession(loaded, described, options, log)
        self._bind(criterion, name)

    def _bind(self, criterion: str | None, name: str | None) -> None:
        rubric = self._shared.rubric
        if criterion is not None:
            if rubric is None:
                raise ValueError("a per-criterion reward needs a fixed rubric")
            if criterion not in rubric.ids:  # fails here, not in the trainer
                raise ValueError(f"no criterion {criterion!r} in rubric {rubric.name!r} (its ids: {rubric.ids})")
        self.criterion = criterion
        self.__name__ = name or _label(rubric, criterion)  # what TRL logs it as

    @classmethod
    def per_criterion(cls, rubric: RubricLike, judge: JudgeLike = "local", *, include_total: bool = False,
                      **settings: Any) -> list[TrlReward]:
        """One per criterion in rubric order (the total first with `include_total`), sharing one Judge
        and one judging pass per batch, in this process or wherever they are unpickled together."""
        first = cls(rubric, judge, **settings)
        assert first._shared.rubric is not None
        ids: list[str | None] = [None] if include_total else []
        ids += [c.cid for c in first._shared.rubric.criteria]
        out = []
        for cid in ids:
            member = cls.__new__(cls)
            member._shared = first._shared
            member._bind(cid, None)
            out.append(member)
        return out

    @property
    def judge(self) -> Judge:
        """The Judge in this process (built now if it was not yet): for its stats, or to close it."""
        return self._shared.get().scorer.judge

    async def __call__(self, prompts: Sequence[Text], completions: Sequence[Text], completion_ids: Sequence[Sequence[int]] | None = None,
                       **kwargs: Any) -> list[float | None]:
        return await self._shared.get().values(prompts, completions, kwargs, self.criterion)

    def as_function(self) -> RewardFunction:
        """This reward as a plain `async def` of the same name (not picklable: see `trl_reward`)."""
        async def judgekit_reward(prompts: Sequence[Text], completions: Sequence[Text],
                                  completion_ids: Sequence[Sequence[int]] | None = None, **kwargs: Any) -> list[float | None]:
            return await self(prompts, completions, completion_ids, **kwargs)

        judgekit_reward.__name__ = judgekit_reward.__qualname__ = self.__name__
        return judgekit_reward

    def __repr__(self) -> str:
        judge = self._shared.judge
        return f"TrlReward({self.__name__}, judge={(judge.spec if isinstance(judge, Judge) else judge.name)!r})"


def trl_reward(
    rubric: RubricLike | None,
    judge: JudgeLike,
    *,
    strategy: str = "pointwise",
    normalize: bool = False,
    clip: tuple[float, float] | None = None,
    veto_penalty: float | None = None,
    length_debias: bool = False,
    reference_column: str | None = None,
    strict: bool = False,
    log: bool = True,
    name: str | None = None,
    par: bool = False,
    par_reference_reward: float | None = None,
    panel_reward: str = "votes",
    panel_k: float = 1.0,
    adaptive: MetaRubric | str | Path | None = None,
    **guards: Any,
) -> RewardFunction:
    """A reward function for TRL's `GRPOTrainer(reward_funcs=[...])`: `TrlReward(rubric, judge, ...)`
    as a plain `async def` (TRL runs async reward functions concurrently on its own loop). The options
    and the call are TrlReward's. Not picklable: give `TrlReward` a JudgeSpec for trainers that pickle
    reward functions."""
    return TrlReward(rubric, judge, name=name, strategy=strategy, normalize=normalize, clip=clip, veto_penalty=veto_penalty,
                     length_debias=length_debias, reference_column=reference_column, strict=strict, log=log, par=par,
                     par_reference_reward=par_reference_reward, panel_reward=panel_reward, panel_k=panel_k,
                     adaptive=adaptive, **guards).as_function()


def trl_criterion_rewards(
    rubric: RubricLike,
    judge: JudgeLike,
    *,
    include_total: bool = False,
    log: bool = True,
    **options: object,
) -> list[RewardFunction]:
    """One TRL reward function per criterion (named `judgekit_<criterion_id>`), in rubric order,
    all sharing one judging pass per batch. With `include_total`, the rubric reward comes first:
    `TrlReward.per_criterion` over a Judge, each as a plain `async def`.

    Use with `GRPOConfig(reward_weights=[...], multi_objective_aggregation="normalize_then_sum")`
    (e.g. the criteria's |weight|): TRL's default `sum_then_normalize` adds an unscored criterion's
    NaN as 0, the same as UNMET. Hard-rule vetoes are not applied to the per-criterion values.
    Takes the options of `trl_reward` (strategy pointwise only: the per-criterion scores are
    pointwise verdicts).
    """
    return [r.as_function() for r in TrlReward.per_criterion(rubric, judge, include_total=include_total, log=log, **options)]
