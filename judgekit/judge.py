"""`judgekit.Judge`: the object users hold. It owns a backend, a cache and one event loop.

All judging runs on the Judge's own event loop in a background thread, so the same Judge works
from plain code (`score`), from any asyncio loop (`await ascore`, e.g. inside a trainer) and from
notebooks, and its HTTP client and concurrency limit are never shared across loops.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Collection, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from judgekit.arguments import JUDGE_ARGUMENTS, argument_error, judge_config
from judgekit.authoring.adaptive import with_pair_criteria
from judgekit.authoring.rubric_rm import empty_rubric, score_item, with_generated
from judgekit.config import JudgeConfig
from judgekit.data.rows import InputRow, to_input_rows
from judgekit.errors import InputError, JudgeUnreachable
from judgekit.judging.agreement import AgreementLog
from judgekit.judging.context import JudgeContext
from judgekit.judging.outcomes import compare_result, score_result
from judgekit.judging.pairwise import NOTHING_JUDGED, PairItem, PairOutcome, judge_pairwise
from judgekit.judging.pointwise import PointwiseItem, PointwiseOutcome
from judgekit.judging.ranking import Group, RankOutcome, check_strategy, rank_responses
from judgekit.judging.results import CompareResult, ScoreResult
from judgekit.judging.verdicts import SamplingSettings, ThinkingSettings, VerdictCollector
from judgekit.llm.balance import BalancedBackend
from judgekit.llm.base import Backend, BackendLike, FatalError, as_backend, check_all
from judgekit.llm.budget import Budget
from judgekit.llm.cache import VerdictCache
from judgekit.llm.engine import map_rows
from judgekit.llm.factory import Server, check_servers, make_backend
from judgekit.llm.pricing import Pricing, pricing_for
from judgekit.llm.runner import CallRunner, RetryPolicy
from judgekit.llm.usage import RunStats, ScopeUsage
from judgekit.protocol.profiles import JudgeProfile, load_profile
from judgekit.rubric.meta import MetaRubric, load_meta_rubric
from judgekit.rubric.models import Rubric, RubricLike, as_rubric

T = TypeVar("T")
_CLOSE_TIMEOUT_S = 10.0


@dataclass
class _Owned:
    """What a Judge owns and must release: the loop thread, its backends' HTTP clients, the cache.
    Kept apart from the Judge so that a finalizer can release them when the Judge is dropped, or at
    interpreter exit, without close(): no "Unclosed client session" at exit."""

    backends: list[Backend]
    cache: VerdictCache | None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def start_loop(self) -> asyncio.AbstractEventLoop:
        loop = _new_event_loop()
        self.thread = threading.Thread(target=_serve_loop, args=(loop,), name="judgekit-judge", daemon=True)
        self.thread.start()
        self.loop = loop
        return loop

    def release(self) -> None:
        loop, self.loop = self.loop, None
        if loop is not None and threading.current_thread() is self.thread:
            # Dropped by code running on the loop itself: close the clients there, without waiting.
            loop.create_task(self._aclose()).add_done_callback(lambda _: loop.stop())
        elif loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._aclose(), loop).result(timeout=_CLOSE_TIMEOUT_S)
            except TimeoutError:
                pass  # a loop that does not answer (a call stuck in native code) ends with the process
            finally:
                loop.call_soon_threadsafe(loop.stop)
            if self.thread is not None:
                self.thread.join(timeout=_CLOSE_TIMEOUT_S)
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    async def _aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (5-10% less client CPU per judge call over HTTP here), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


class Judge:
    def __init__(
        self,
        spec: str = "local",
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        backend: Backend | BackendLike | None = None,
        budget: Budget | None = None,
        **config: Any,
    ) -> None:
        """`budget`: the limits and spending this Judge counts into (default: its own, from
        `max_calls` / `max_cost`), e.g. one shared by the actors of a Ray run."""
        try:
            self._set_up(spec, base_url, api_key, backend, budget, config)
        except InputError as exc:  # named as the caller wrote it: Judge()'s arguments, not the CLI's flags
            raise argument_error(exc, f"{type(self).__name__}()") from None

    def _set_up(self, spec: str, base_url: str | Sequence[str] | None, api_key: str | None, backend: Backend | BackendLike | None,
                budget: Budget | None, config: dict[str, Any]) -> None:
        self.spec = spec
        given_profile = config.get("profile")
        if isinstance(given_profile, JudgeProfile):
            config["profile"] = given_profile.name
        self.config = judge_config(f"{type(self).__name__}()", config, arguments=JUDGE_ARGUMENTS)
        self.profile = load_profile(given_profile if isinstance(given_profile, JudgeProfile) else self.config.profile)
        self.stats = RunStats()
        self.budget = budget or Budget(self.config.max_calls, self.config.max_cost)
        # The calls in flight of every runner of this Judge (a Panel's judges, the generator): one budget's worth.
        self._call_slots = asyncio.Semaphore(self.config.concurrency)
        self.pricing = pricing_for(spec)
        self.budget.price_with(self.pricing)
        if self.config.generator:
            self.budget.price_with(pricing_for(self.config.generator))
        self.agreement = AgreementLog()  # self-agreement over samples; a Panel's inter-judge alpha
        timeout = self.config.timeout
        # Build the backend now so a bad spec or a missing key fails here, not mid-run.
        self._backend: Backend = as_backend(backend) if backend is not None else make_backend(
            spec, base_url=base_url, api_key=api_key, timeout=timeout, cache_dir=self.config.cache_dir)
        self._cache = VerdictCache(self.config.cache_dir) if self.config.cache else None
        self._context: JudgeContext | None = None
        # Built now, like the judge's backend, so a bad --generator fails before any call.
        self._generator_backend: Backend | None = make_backend(
            self.config.generator, base_url=self.config.generator_base_url or base_url, api_key=api_key, timeout=timeout,
            cache_dir=self.config.cache_dir,
        ) if self.config.generator else None
        self._start_lock = threading.Lock()
        self._context_lock = threading.Lock()
        self._owned = _Owned([b for b in (self._backend, self._generator_backend) if b is not None], self._cache)
        self._release = weakref.finalize(self, self._owned.release)

    # ---- the private event loop -------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            return self._owned.loop or self._owned.start_loop()

    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the judge's loop and wait for it (from synchronous code)."""
        return self._submit(coro).result()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine on the judge's loop from any other event loop."""
        return await asyncio.wrap_future(self._submit(coro))

    def context(self) -> JudgeContext:
        """What judging needs of this Judge (runners, cache, profile, settings); built on first use.
        Its runners belong to the judge's loop: hand it to coroutines run there (`judge.run(...)`)."""
        with self._context_lock:
            return self._context or self._build_context()

    def _build_context(self) -> JudgeContext:
        collector = self._verdict_collector()
        # rubric-rm: the generator's own model when one is given (retries, concurrency limit
        # and stats as for the judge), else the judge's runner.
        runner = collector.runner
        generator = (self._runner(self._generator_backend, pricing_for(self.config.generator or ""))
                     if self._generator_backend is not None else runner)
        self._context = JudgeContext(collector, generator, self.config, generations={}, spec=self.spec)
        return self._context

    def _verdict_collector(self) -> VerdictCollector:
        """Who answers the verdict questions: this judge's model (a Panel: its judges)."""
        return self._collector_for(self._runner(self._backend), self.profile)

    def _collector_for(self, runner: CallRunner, profile: JudgeProfile) -> VerdictCollector:
        return VerdictCollector(
            runner, self._cache, max_reasks=self.config.max_reasks, sampling=self.sampling(profile),
            mask_names=self.config.mask_names, profile=profile,
            thinking=ThinkingSettings(self.config.two_phase, self.config.think_tokens),
            samples=self.config.samples, agreement=self.agreement,
        )

    def _runner(self, backend: Backend, pricing: Pricing | None = None) -> CallRunner:
        return CallRunner(backend, concurrency=self.config.concurrency, timeout=self.config.timeout,
                          policy=RetryPolicy(max_attempts=self.config.max_attempts), stats=self.stats,
                          budget=self.budget, pricing=pricing or self.pricing, shared_slots=self._call_slots)

    @property
    def cost_usd(self) -> float | None:
        """What this Judge's calls have cost so far, in US dollars at list price; None when a model
        it uses has no price (the embedded judge, in-process vLLM, a model the price table lacks)."""
        return self.budget.cost_usd

    def collector(self) -> VerdictCollector:
        """The verdict collector; only to be used on the judge's loop."""
        return self.context().collector

    def check_servers(self) -> None:
        """Ask each server this Judge uses (its judge's, a generator's, a panel's judges') once
        whether it answers, without generating anything; JudgeUnreachable naming each one that does
        not (its URL, credentials masked) and why. An in-process model has nothing to check."""
        try:
            self.run(check_all(self._owned.backends))
        except FatalError as exc:
            raise JudgeUnreachable(str(exc)) from None

    def server_usage(self) -> list[dict[str, Any]] | None:
        """With several servers (`base_url` a list): per server its URL, calls sent, calls failed for
        its own reasons, times set aside and last error. None with one server."""
        return self._backend.usage() if isinstance(self._backend, BalancedBackend) else None

    @property
    def cache(self) -> VerdictCache | None:
        return self._cache

    def sampling(self, profile: JudgeProfile | None = None) -> SamplingSettings:
        """Temperature and max tokens: as configured, else the profile's, else 0 and 1024 (with
        samples, a temperature of 0 from the profile or the default becomes 1.0)."""
        c, d = self.config, (profile or self.profile).sampling
        temperature = c.temperature if c.temperature is not None else d.temperature if d.temperature is not None else 0.0
        if c.samples > 1 and c.temperature is None and not temperature:
            temperature = 1.0
        max_tokens = c.max_tokens if c.max_tokens is not None else d.max_tokens if d.max_tokens is not None else 1024
        return SamplingSettings(temperature, max_tokens, c.seed)

    # ---- pointwise --------------------------------------------------------------------------

    async def _score_item(self, rubric: Rubric, item: PointwiseItem, soft: bool | None = None) -> PointwiseOutcome:
        return await score_item(self.context(), rubric, item, soft)

    async def with_generated(self, rubric: Rubric, prompt: Any, reference: Any) -> tuple[Rubric, list[dict[str, Any]] | None]:
        """rubric-rm: the rubric plus the criteria written for this prompt; other profiles: as given."""
        return await with_generated(self.context(), rubric, prompt, reference)

    async def ascore_item(self, rubric: Rubric, item: PointwiseItem) -> PointwiseOutcome:
        """Score one (prompt, response) against a rubric, from any event loop."""
        return await self.arun(self._score_item(rubric, item))

    async def _score_rows(self, rows: list[InputRow], rubric: Rubric | None, explain: bool, soft: bool | None = None) -> list[ScoreResult]:
        return await map_rows(rows, lambda r: self._score_row(r, rubric, explain, soft), concurrency=self.config.concurrency,
                              failed=lambda r, reason: ScoreResult.failed(r.id, reason))

    async def _score_row(self, row: InputRow, rubric: Rubric | None, explain: bool, soft: bool | None = None) -> ScoreResult:
        outcome = await self._score_item(
            rubric_for(row, rubric, optional=self.makes_criteria()),
            PointwiseItem(row.fields["prompt"], row.fields["response"], row.fields.get("reference"), row.data),
            soft,
        )
        return score_result(row.id, outcome, explain)

    def score(self, rows: Iterable[Mapping[str, Any] | InputRow], rubric: RubricLike | None = None, *, explain: bool = False,
              soft: bool | None = None) -> list[ScoreResult]:
        """Score rows (dicts with prompt/response, or read rows); one result per row, in order. `rubric`:
        a Rubric, a rubric YAML file's path or its data (a dict); None: every row carries its own."""
        given = given_rubric(rubric, f"{type(self).__name__}.score()")
        return self.run(self._score_rows(to_input_rows(rows, ("prompt", "response")), given, explain, soft))

    async def ascore(self, rows: Iterable[Mapping[str, Any] | InputRow], rubric: RubricLike | None = None, *, explain: bool = False,
                     soft: bool | None = None) -> list[ScoreResult]:
        given = given_rubric(rubric, f"{type(self).__name__}.ascore()")
        return await self.arun(self._score_rows(to_input_rows(rows, ("prompt", "response")), given, explain, soft))

    async def ascore_row(self, row: InputRow, rubric: Rubric | None, explain: bool = False, soft: bool | None = None) -> ScoreResult:
        """One read row, on the judge's loop (used by the file runner, which runs there)."""
        return await self._score_row(row, rubric, explain, soft)

    # ---- pairwise (judgekit.judging.pairwise) ---------------------------------------------------------

    async def compare_pair(
        self, rubric: Rubric | None, item: PairItem, *, soft: bool | None = None, adaptive: MetaRubric | str | Path | None = None,
        usage: ScopeUsage | None = None,
    ) -> PairOutcome:
        """One pair, on the judge's loop. With a rubric-rm profile the prompt's generated criteria
        join the rubric; with `adaptive` (a meta-rubric) so do the criteria written for this pair;
        both are recorded in the outcome. `usage`: also count this pair's verdict calls there."""
        context = self.context()
        generated = written = None
        if self.profile.rubric_generator is not None:
            rubric, generated = await self.with_generated(rubric or empty_rubric(), item.prompt, item.reference)
        if adaptive is not None:
            rubric, written = await with_pair_criteria(
                context, load_meta_rubric(adaptive), rubric if rubric is not None and rubric.criteria else None, item)
        if rubric is None or not rubric.criteria:
            outcome = NOTHING_JUDGED
        else:
            outcome = await judge_pairwise(
                (context.counting_into(usage) if usage is not None else context).collector, rubric, item,
                criteria_per_call=self.config.criteria_per_call, allow_code=self.config.allow_code,
                soft=context.soft_default(soft),
            )
        return replace(outcome, generated_criteria=generated, adaptive_criteria=written)

    async def acompare_row(self, row: InputRow, rubric: Rubric | None, explain: bool = False, soft: bool | None = None,
                           adaptive: MetaRubric | str | Path | None = None) -> CompareResult:
        """One read row with response_a/response_b, on the judge's loop: a CompareResult."""
        effective = rubric_for(row, rubric, optional=self.makes_criteria(adaptive))
        item = PairItem(row.fields["prompt"], row.fields["response_a"], row.fields["response_b"],
                        row.fields.get("reference"), row.data)
        return compare_result(row.id, await self.compare_pair(effective, item, soft=soft, adaptive=adaptive), explain)

    def makes_criteria(self, adaptive: MetaRubric | str | Path | None = None) -> bool:
        return makes_criteria(self.profile, adaptive)

    async def _compare_rows(self, rows: list[InputRow], rubric: Rubric | None, explain: bool, soft: bool | None,
                            adaptive: MetaRubric | str | Path | None) -> list[CompareResult]:
        if adaptive is not None:  # a path: read the meta-rubric once, not once per pair
            adaptive = load_meta_rubric(adaptive)
        return await map_rows(rows, lambda r: self.acompare_row(r, rubric, explain, soft, adaptive),
                              concurrency=self.config.concurrency, failed=lambda r, reason: CompareResult.failed(r.id, reason))

    def compare(self, rows: Iterable[Mapping[str, Any] | InputRow], rubric: RubricLike | None = None, *,
                explain: bool = False, soft: bool | None = None, adaptive: MetaRubric | str | Path | None = None) -> list[CompareResult]:
        """Compare rows (dicts with prompt, response_a, response_b) in both orders; a CompareResult per row.
        `rubric` as for `score`. `adaptive`: a meta-rubric (path or MetaRubric): the judge first writes
        criteria for each pair."""
        given = given_rubric(rubric, f"{type(self).__name__}.compare()")
        rows_in = to_input_rows(rows, ("prompt", "response_a", "response_b"))
        return self.run(self._compare_rows(rows_in, given, explain, soft, adaptive))

    async def acompare(self, rows: Iterable[Mapping[str, Any] | InputRow], rubric: RubricLike | None = None, *,
                       explain: bool = False, soft: bool | None = None,
                       adaptive: MetaRubric | str | Path | None = None) -> list[CompareResult]:
        given = given_rubric(rubric, f"{type(self).__name__}.acompare()")
        rows_in = to_input_rows(rows, ("prompt", "response_a", "response_b"))
        return await self.arun(self._compare_rows(rows_in, given, explain, soft, adaptive))

    # ---- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients, stop the loop thread, close the cache. A Judge that is never
        closed is closed when it is garbage-collected or at interpreter exit."""
        self._release()
        self._cache = None

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def makes_criteria(profile: JudgeProfile, adaptive: MetaRubric | str | Path | None = None) -> bool:
    """Whether criteria are written on the fly (rubric-rm, adaptive), so no rubric is needed."""
    return adaptive is not None or profile.rubric_generator is not None


def given_rubric(rubric: RubricLike | None, call: str) -> Rubric | None:
    """The rubric a Python caller gave (see as_rubric), or None."""
    return None if rubric is None else as_rubric(rubric, call=call)


def rubric_for(row: InputRow, rubric: Rubric | None, *, optional: bool = False) -> Rubric:
    """The row's own rubric, else the one given; a row with neither is bad input (unless criteria
    are written on the fly: then an empty rubric)."""
    effective = row.rubric or rubric
    if effective is None and optional:
        return empty_rubric()
    if effective is None:
        raise InputError("the row has no rubric and none was given", line=row.line, field="rubric")
    return effective


@dataclass(frozen=True)
class JudgeRecipe:
    """How to build a Judge, as data: what a trainer or a Ray actor pickles into another process in
    place of a Judge (which holds a thread, an event loop and HTTP clients). No key: the process that
    builds the Judge reads it from its environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), so a key
    is never pickled."""

    spec: str = "local"
    base_url: str | list[str] | None = None
    config: JudgeConfig = field(default_factory=JudgeConfig)

    @classmethod
    def of(cls, spec: str = "local", base_url: str | list[str] | None = None,
           options: Mapping[str, Any] | None = None, *, call: str = "Judge()", arguments: Collection[str] = ()) -> JudgeRecipe:
        """The recipe, its settings checked now (in the process that writes it); a bad one is an
        InputError naming the argument of `call`, the Python call they were given to (`arguments`:
        its own, besides JudgeConfig's, offered for a misspelled one)."""
        return cls(spec, base_url, judge_config(call, dict(options or {}), arguments=arguments))

    def with_config(self, config: JudgeConfig) -> JudgeRecipe:
        return replace(self, config=config)

    def check_servers(self) -> None:
        """Judge.check_servers without building the Judge (an embedded model is not loaded), e.g. in
        the process that hands this recipe to Ray actors, before any of them starts."""
        check_recipe_servers([(self.spec, self.base_url)], self.config)

    def build(self, budget: Budget | None = None) -> Judge:
        """The Judge; `budget`: one it shares with others (see Judge), else its own."""
        return Judge(self.spec, base_url=self.base_url, budget=budget, **self.config.model_dump())


def check_recipe_servers(servers: list[Server], config: JudgeConfig) -> None:
    """Ask the servers of a recipe's judges (and its generator's) whether they answer; JudgeUnreachable
    naming each one that does not, as Judge.check_servers."""
    generator = [(config.generator, config.generator_base_url or servers[0][1])] if config.generator else []
    try:
        asyncio.run(check_servers([*servers, *generator], timeout=config.timeout))
    except FatalError as exc:
        raise JudgeUnreachable(str(exc)) from None


async def rank_group(
    judge: Judge,
    rubric: RubricLike,
    prompt: Any,
    responses: list[Any],
    *,
    strategy: str = "pointwise",
    reference: Any = None,
) -> RankOutcome:
    """One reward in [0, 1] per response; run it on the judge's loop (inside judge.run / judge.arun).
    `rubric`: a Rubric, a rubric YAML file's path or its data (a dict)."""
    return await rank_group_with(judge, as_rubric(rubric, call="rank_group()"), prompt, responses, strategy=strategy,
                                 reference=reference)


async def rank_group_with(
    judge: Judge,
    rubric: Rubric,
    prompt: Any,
    responses: list[Any],
    *,
    strategy: str = "pointwise",
    reference: Any = None,
    anchor_index: int | None = None,
    row: dict[str, Any] | None = None,
) -> RankOutcome:
    """`rank_group` with the anchor choice: `anchor_index` (default: the reference, else 0)."""
    check_strategy(strategy)
    if not responses:
        return RankOutcome([], None, [], 0)
    rubric, generated = await judge.with_generated(rubric, prompt, reference)  # rubric-rm: one rubric per prompt
    outcome = await rank_responses(judge.context(), rubric, Group(prompt, responses, reference, row),
                                   strategy=strategy, anchor_index=anchor_index)
    return replace(outcome, generated_criteria=generated)
