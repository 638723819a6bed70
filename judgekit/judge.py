"""`judgekit.Judge`: the object users hold. It owns a backend, a cache and one event loop.
`judgekit.JudgeSpec`: a judge described (or a panel of judges), from which a Judge is built.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from judgekit.arguments import JUDGE_ARGUMENTS, argument_error, judge_config
from judgekit.config import JudgeConfig
from judgekit.data.rows import InputRow, to_input_rows
from judgekit.data.transcript import Text
from judgekit.errors import ArgumentError, InputError, JudgeUnreachable
from judgekit.jsonvalue import JSONObject
from judgekit.judging import judgment
from judgekit.judging.agreement import AgreementLog
from judgekit.judging.context import JudgeContext
from judgekit.judging.judgment import makes_criteria
from judgekit.judging.outcomes import compare_result, score_result
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.results import CompareResult, ScoreResult
from judgekit.judging.verdicts import SamplingSettings, ThinkingSettings, VerdictCollector
from judgekit.judging.votes import Aggregate
from judgekit.llm.base import Backend, BackendLike, FatalError, ServerUsage, as_backend, check_all
from judgekit.llm.budget import Budget
from judgekit.llm.cache import VerdictCache
from judgekit.llm.engine import map_rows
from judgekit.llm.factory import Server, check_servers, make_backend, spec_problem
from judgekit.llm.pricing import Pricing, pricing_for
from judgekit.llm.runner import CallRunner, RetryPolicy
from judgekit.llm.usage import RunStats, ScopeUsage
from judgekit.protocol.profiles import JudgeProfile, load_profile
from judgekit.rubric.formats import rubric_for
from judgekit.rubric.models import Rubric, RubricLike, as_rubric

if TYPE_CHECKING:  # panels, cascades, pairs, groups and meta-rubrics load their modules when first used (start-up)
    from judgekit.judging.cascade import CascadeLog
    from judgekit.judging.pairwise import PairItem, PairOutcome
    from judgekit.judging.ranking import RankOutcome
    from judgekit.rubric.meta import MetaRubric

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
        spec: str | JudgeSpec = "local",
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        backend: Backend | BackendLike | None = None,
        budget: Budget | None = None,
        **config: object,
    ) -> None:
        """`spec`: a judge spec string (with `base_url` and JudgeConfig's fields as keywords), or a
        JudgeSpec (a panel's too), which holds them. `api_key`: else the environment's. `backend`: your
        own model in place of the spec's. `budget`: the limits and spending this Judge counts into
        (default: its own, from `max_calls` / `max_cost`), e.g. one shared by the actors of a Ray run."""
        try:
            given_profile = config.get("profile")
            if isinstance(given_profile, JudgeProfile):  # a profile made in Python: the spec holds its name
                config["profile"] = given_profile.name
            described = judge_spec(spec, call="Judge()", argument="spec", base_url=base_url, settings=config,
                                   arguments=JUDGE_ARGUMENTS)
            self._set_up(described, api_key, backend, budget, given_profile if isinstance(given_profile, JudgeProfile) else None)
        except InputError as exc:  # named as the caller wrote it: Judge()'s arguments, not the CLI's flags
            raise argument_error(exc, "Judge()") from None

    def _set_up(self, described: JudgeSpec, api_key: str | None, backend: Backend | BackendLike | None, budget: Budget | None,
                given_profile: JudgeProfile | None) -> None:
        if backend is not None and described.members:
            raise ArgumentError("a panel's or cascade's judges are built from their specs; give backend= to a single judge",
                                field="backend",
                                call="Judge()")
        self.judge_spec = described
        """What this Judge was built from (a spec string, its servers, its settings, a panel's judges)."""
        self._rebuildable = backend is None and given_profile is None  # in another process, from judge_spec alone
        self.spec = described.name
        seats = described.seats()
        own = given_profile is not None and not described.members
        profiles = [given_profile] if own and given_profile is not None else [load_profile(seat.profile) for seat in seats]
        self._profiles: list[JudgeProfile] = profiles
        self.profile = profiles[0]
        # A panel's settings are its first judge's, whose profile also writes criteria (rubric-rm, generation).
        self.config = described.config.model_copy(update={"profile": self.profile.name}) if described.members else described.config
        self.stats = RunStats()
        self.budget = budget or Budget(self.config.max_calls, self.config.max_cost)
        # The calls in flight of every runner of this Judge (a panel's judges, the generator): one budget's worth.
        self._call_slots = asyncio.Semaphore(self.config.concurrency)
        self._prices = [pricing_for(seat.judge) for seat in seats]
        for pricing in self._prices:
            self.budget.price_with(pricing)
        if self.config.generator:
            self.budget.price_with(pricing_for(self.config.generator))
        self.agreement = AgreementLog()  # self-agreement over samples; a panel's inter-judge alpha
        self.cascade = _cascade_log(described, self._prices)
        """A cascade's count per level: verdicts decided and passed on, calls and cost; None without a cascade."""
        timeout = self.config.timeout
        # Build the backends now so a bad spec or a missing key fails here, not mid-run.
        self._backends: list[Backend] = [as_backend(backend)] if backend is not None else [
            make_backend(seat.judge, base_url=seat.base_url, api_key=api_key, timeout=timeout, cache_dir=self.config.cache_dir)
            for seat in seats]
        if described.cascade:
            _check_cascade_measures(described, self._backends)
        self._cache = VerdictCache(self.config.cache_dir) if self.config.cache else None
        self._context: JudgeContext | None = None
        # Built now, like the judge's backend, so a bad --generator fails before any call.
        self._generator_backend: Backend | None = make_backend(
            self.config.generator, base_url=self.config.generator_base_url or seats[0].base_url, api_key=api_key,
            timeout=timeout, cache_dir=self.config.cache_dir,
        ) if self.config.generator else None
        self._start_lock = threading.Lock()
        self._context_lock = threading.Lock()
        self._owned = _Owned([*self._backends, *filter(None, [self._generator_backend])], self._cache)
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
        """Who answers the verdict questions: this judge's model; a panel's judges each with their own
        backend and profile, their votes aggregated (PanelCollector). One budget and one set of call
        slots for all of them."""
        collectors = [self._collector_for(self._runner(backend, pricing), profile)
                      for backend, pricing, profile in zip(self._backends, self._prices, self._profiles)]
        if self.cascade is not None:
            from judgekit.judging.cascade import CascadeCollector, Check, Level

            levels = [Level(collector.counting_into(count.usage), count) for collector, count in zip(collectors, self.cascade.levels)]
            check = self.cascade.check
            checker = Check(collectors[-1].counting_into(check.usage), check) if check is not None else None
            return CascadeCollector(levels, self.cascade.threshold, checker)
        panel = self.judge_spec.judges
        if not panel:
            return collectors[0]
        from judgekit.judging.panel import Juror, PanelCollector

        jurors = [Juror(collector, j.weight, f"judge {i + 1} ({j.judge})") for i, (j, collector) in enumerate(zip(panel, collectors))]
        return PanelCollector(jurors, self.judge_spec.aggregate, self.agreement)

    def _collector_for(self, runner: CallRunner, profile: JudgeProfile) -> VerdictCollector:
        return VerdictCollector(
            runner, self._cache, max_reasks=self.config.max_reasks, sampling=self.sampling(profile),
            mask_names=self.config.mask_names, profile=profile,
            thinking=ThinkingSettings(self.config.two_phase, self.config.think_tokens),
            samples=self.config.samples, agreement=self.agreement, view=self.config.view,
        )

    @property
    def pricing(self) -> Pricing:
        """The judge's price list; a panel's: the first of its judges' without a price (why a cost is unknown).
        The price table is read only when this is asked of a panel, not when a judge is built."""
        if len(self._prices) == 1:
            return self._prices[0]
        return next((p for p in self._prices if p.prices is None), self._prices[0])

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

    def server_usage(self) -> list[ServerUsage] | None:
        """With several servers (`base_url` a list): per server its URL, calls sent, calls failed for
        its own reasons, times set aside and last error. None with one server."""
        return self._backends[0].server_usage() if len(self._backends) == 1 else None

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

    async def _score_item(self, rubric: Rubric, item: PointwiseItem, soft: bool | None = None) -> ScoreResult:
        return await judgment.score_item(self.context(), rubric, item, soft=soft)

    async def ascore_item(self, rubric: Rubric, item: PointwiseItem) -> ScoreResult:
        """Score one (prompt, response) against a rubric, from any event loop."""
        return await self.arun(self._score_item(rubric, item))

    async def _score_rows(self, rows: list[InputRow], rubric: Rubric | None, explain: bool, soft: bool | None = None) -> list[ScoreResult]:
        return await map_rows(rows, lambda r: self._score_row(r, rubric, explain, soft), concurrency=self.config.concurrency,
                              failed=lambda r, reason: ScoreResult.failed(r.id, reason))

    async def _score_row(self, row: InputRow, rubric: Rubric | None, explain: bool, soft: bool | None = None) -> ScoreResult:
        outcome = await self._score_item(
            rubric_for(row.rubric, rubric, optional=self.makes_criteria(), line=row.line),
            PointwiseItem(row.text("prompt"), row.text("response"), row.reference(), row.data),
            soft,
        )
        return score_result(row.id, outcome, explain)

    def score(self, rows: Iterable[Mapping[str, object] | InputRow], rubric: RubricLike | None = None, *, explain: bool = False,
              soft: bool | None = None) -> list[ScoreResult]:
        """Score rows (dicts with prompt/response, or read rows); one result per row, in order. `rubric`:
        a Rubric, a rubric YAML file's path or its data (a dict); None: every row carries its own."""
        given = given_rubric(rubric, f"{type(self).__name__}.score()")
        return self.run(self._score_rows(to_input_rows(rows, ("prompt", "response")), given, explain, soft))

    async def ascore(self, rows: Iterable[Mapping[str, object] | InputRow], rubric: RubricLike | None = None, *, explain: bool = False,
                     soft: bool | None = None) -> list[ScoreResult]:
        given = given_rubric(rubric, f"{type(self).__name__}.ascore()")
        return await self.arun(self._score_rows(to_input_rows(rows, ("prompt", "response")), given, explain, soft))

    async def ascore_row(self, row: InputRow, rubric: Rubric | None, explain: bool = False, soft: bool | None = None) -> ScoreResult:
        """One read row, on the judge's loop (used by the file runner, which runs there)."""
        return await self._score_row(row, rubric, explain, soft)

    # ---- pairwise (judgekit.judging.judgment) ---------------------------------------------------------

    async def compare_pair(
        self, rubric: Rubric | None, item: PairItem, *, soft: bool | None = None, adaptive: MetaRubric | str | Path | None = None,
        usage: ScopeUsage | None = None,
    ) -> PairOutcome:
        """One pair, on the judge's loop (judging.judgment.compare_pair). With a rubric-rm profile the
        prompt's generated criteria join the rubric; with `adaptive` (a meta-rubric) so do the criteria
        written for this pair; both are recorded in the outcome. `usage`: also count this pair's verdict
        calls there."""
        context = self.context()
        return await judgment.compare_pair(context.counting_into(usage) if usage is not None else context, rubric, item, soft=soft,
                                           adaptive=_meta_rubric(adaptive))

    async def acompare_row(self, row: InputRow, rubric: Rubric | None, explain: bool = False, soft: bool | None = None,
                           adaptive: MetaRubric | str | Path | None = None) -> CompareResult:
        """One read row with response_a/response_b, on the judge's loop: a CompareResult."""
        from judgekit.judging.pairwise import PairItem

        effective = rubric_for(row.rubric, rubric, optional=self.makes_criteria(adaptive), line=row.line)
        item = PairItem(row.text("prompt"), row.text("response_a"), row.text("response_b"), row.reference(), row.data)
        return compare_result(row.id, await self.compare_pair(effective, item, soft=soft, adaptive=adaptive), explain)

    def makes_criteria(self, adaptive: MetaRubric | str | Path | None = None) -> bool:
        return makes_criteria(self.profile, adaptive)

    async def _compare_rows(self, rows: list[InputRow], rubric: Rubric | None, explain: bool, soft: bool | None,
                            adaptive: MetaRubric | str | Path | None) -> list[CompareResult]:
        adaptive = _meta_rubric(adaptive)  # a path: read the meta-rubric once, not once per pair
        return await map_rows(rows, lambda r: self.acompare_row(r, rubric, explain, soft, adaptive),
                              concurrency=self.config.concurrency, failed=lambda r, reason: CompareResult.failed(r.id, reason))

    def compare(self, rows: Iterable[Mapping[str, object] | InputRow], rubric: RubricLike | None = None, *,
                explain: bool = False, soft: bool | None = None, adaptive: MetaRubric | str | Path | None = None) -> list[CompareResult]:
        """Compare rows (dicts with prompt, response_a, response_b) in both orders; a CompareResult per row.
        `rubric` as for `score`. `adaptive`: a meta-rubric (path or MetaRubric): the judge first writes
        criteria for each pair."""
        given = given_rubric(rubric, f"{type(self).__name__}.compare()")
        rows_in = to_input_rows(rows, ("prompt", "response_a", "response_b"))
        return self.run(self._compare_rows(rows_in, given, explain, soft, adaptive))

    async def acompare(self, rows: Iterable[Mapping[str, object] | InputRow], rubric: RubricLike | None = None, *,
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


def _meta_rubric(adaptive: MetaRubric | str | Path | None) -> MetaRubric | None:
    if adaptive is None:
        return None
    from judgekit.rubric.meta import load_meta_rubric

    return load_meta_rubric(adaptive)


def _cascade_log(spec: JudgeSpec, prices: list[Pricing]) -> CascadeLog | None:
    if not spec.cascade:
        return None
    from judgekit.judging.cascade import CascadeLog, CheckCount, LevelCount

    check = CheckCount(spec.check_rate, prices[-1]) if spec.check_rate > 0 else None
    return CascadeLog(spec.threshold, [LevelCount(name, pricing) for name, pricing in zip(_level_names(spec), prices)], check)


def _level_names(spec: JudgeSpec) -> list[str]:
    """How a cascade's judges are named in rows and reports: the spec, with its level where a spec is listed twice."""
    specs = [j.judge for j in spec.cascade]
    return [s if specs.count(s) == 1 else f"{s} (level {i + 1})" for i, s in enumerate(specs)]


def _check_cascade_measures(spec: JudgeSpec, backends: list[Backend]) -> None:
    """A judge before a cascade's last must be able to say how sure it is: log-probabilities, or samples."""
    if spec.config.samples > 1:
        return
    for i, (entry, backend) in enumerate(zip(spec.cascade[:-1], backends)):
        if "logprobs" in backend.unsent_fields:
            raise InputError(f"cascade judge {entry.judge} gives no log-probabilities, so its confidence cannot be measured; "
                             "give --samples N (2 or more) to measure it by agreement", field=f"cascade.{i}.judge")


def given_rubric(rubric: RubricLike | None, call: str) -> Rubric | None:
    """The rubric a Python caller gave (see as_rubric), or None."""
    return None if rubric is None else as_rubric(rubric, call=call)


def _known_spec(spec: str) -> str:
    if (problem := spec_problem(spec)) is not None:
        raise ValueError(problem)
    return spec


class CascadeJudge(BaseModel):
    """One judge of a cascade (an entry of a panel file's `cascade:`): its spec, server and profile
    (default: the file's); also the fields every panel judge has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str
    base_url: str | None = None
    profile: str | None = None

    _known = field_validator("judge")(_known_spec)

    @field_validator("profile")
    @classmethod
    def _loads(cls, profile: str | None) -> str | None:
        if profile is not None:
            try:
                load_profile(profile)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return profile


class PanelJudge(CascadeJudge):
    """One judge of a panel (an entry of a panel file's `judges:`): its spec, server, profile (default:
    the panel's) and weight in the vote."""

    weight: float = Field(1.0, gt=0)


@dataclass(frozen=True)
class Seat:
    """One model that answers a Judge's verdict questions: the Judge's own, or one judge of its panel."""

    judge: str
    base_url: str | Sequence[str] | None
    profile: str


_SPEC_FIELDS = ("judge", "base_url", "config", "judges", "aggregate", "cascade", "threshold", "check_rate")


class JudgeSpec(BaseModel):
    """A judge, described: its spec string and server(s), its settings (JudgeConfig), and for a panel
    its judges and how their votes make one verdict. Frozen and picklable: what a trainer or a Ray
    actor carries into another process in place of a Judge (which holds a thread, an event loop and
    HTTP clients). No key: the process that builds the Judge reads it from its environment
    (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), so a key is never pickled, logged or recorded.

    `JudgeSpec("openai:Qwen/Qwen3-8B", base_url=URL, concurrency=64)`: JudgeConfig's fields may be given
    as keywords (or as `config=`). A panel: `JudgeSpec(judges=[{"judge": "openai:a", "base_url": URL,
    "weight": 2}, ...], aggregate="weighted", concurrency=16)` (the panel file's form; `load_panel`).
    `build()` makes the Judge; `judgekit.Judge(spec)` is the same."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str = "local"
    """The judge spec: local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | vllm:MODEL."""
    base_url: str | tuple[str, ...] | None = None
    """Its server, or several serving the same model (calls balanced over them)."""
    config: JudgeConfig = JudgeConfig()
    """How it runs; a panel's, for every one of its judges (`profile`: of those that name none)."""
    judges: tuple[PanelJudge, ...] = ()
    """A panel's judges, answering in place of `judge`; none: a single judge."""
    aggregate: Aggregate = "majority"
    """How a panel's votes make one verdict: majority | weighted | unanimous | any."""
    cascade: tuple[CascadeJudge, ...] = ()
    """A confidence cascade's judges, cheapest first, answering in place of `judge` (judgekit.judging.cascade)."""
    threshold: float = Field(0.8, ge=0.0, le=1.0)
    """A cascade's: a verdict less confident than this goes on to the next judge."""
    check_rate: float = Field(0.0, ge=0.0, le=1.0)
    """A cascade's: the share of questions decided early also asked of the last judge, to measure agreement."""

    _known = field_validator("judge")(_known_spec)

    def __init__(self, judge: str | None = None, /, **fields: object) -> None:
        super().__init__(**_spec_fields(judge, fields, call="JudgeSpec()", argument="judge"))

    @model_validator(mode="after")
    def _panel_names_its_judges(self) -> JudgeSpec:
        if self.judges and self.cascade:
            raise ValueError("give judges (a panel) or cascade, not both")
        if self.cascade and len(self.cascade) < 2:
            raise ValueError(f"a cascade needs at least 2 judges, got {len(self.cascade)}")
        if not self.cascade and (given := sorted({"threshold", "check_rate"} & self.model_fields_set)):
            raise ValueError(f"{' and '.join(given)}: a cascade's; give them with cascade")
        if self.members and {"judge", "base_url"} & self.model_fields_set:
            kind = "panel" if self.judges else "cascade"
            raise ValueError(f"a {kind} names its judges: give {'judges' if self.judges else 'cascade'} without judge and base_url")
        return self

    @property
    def members(self) -> tuple[CascadeJudge, ...]:
        """A panel's or a cascade's judges; none for a single judge."""
        return self.judges or self.cascade

    @property
    def name(self) -> str:
        """How reports name this judge: its spec, or `panel(openai:a, openai:b; majority)`."""
        if self.judges:
            return "panel(" + ", ".join(j.judge for j in self.judges) + f"; {self.aggregate})"
        if self.cascade:
            return "cascade(" + ", ".join(j.judge for j in self.cascade) + f"; {self.threshold:g})"
        return self.judge

    def seats(self) -> list[Seat]:
        """The models that answer: this judge, or each judge of the panel or cascade."""
        if self.members:
            return [Seat(j.judge, j.base_url, j.profile or self.config.profile) for j in self.members]
        return [Seat(self.judge, self.base_url, self.config.profile)]

    def with_config(self, config: JudgeConfig) -> JudgeSpec:
        return self.model_copy(update={"config": config})

    def with_settings(self, call: str = "JudgeSpec.with_settings()", **settings: object) -> JudgeSpec:
        """The same judge with some of its settings changed (checked, as JudgeConfig's fields of `call`)."""
        return self.with_config(judge_config(call, {**self.config.model_dump(exclude_unset=True), **settings}))

    def check_servers(self) -> None:
        """Judge.check_servers without building the Judge (an embedded model is not loaded), e.g. in
        the process that hands this spec to Ray actors, before any of them starts: JudgeUnreachable
        naming each server (its judges', its generator's) that does not answer."""
        servers: list[Server] = [(seat.judge, seat.base_url) for seat in self.seats()]
        config = self.config
        generator = [(config.generator, config.generator_base_url or servers[0][1])] if config.generator else []
        try:
            asyncio.run(check_servers([*servers, *generator], timeout=config.timeout))
        except FatalError as exc:
            raise JudgeUnreachable(str(exc)) from None

    def build(self, budget: Budget | None = None) -> Judge:
        """The Judge; `budget`: one it shares with others (see Judge), else its own."""
        return Judge(self, budget=budget)


def _spec_fields(judge: str | None, fields: dict[str, object], *, call: str, argument: str,
                 arguments: Collection[str] = ()) -> dict[str, object]:
    """JudgeSpec's fields from a caller's: the spec string, and JudgeConfig's fields given as keywords
    gathered into `config` (checked, a bad one named as `call`'s argument)."""
    if judge is not None:
        if "judge" in fields:
            raise ArgumentError("given twice", field=argument, call=call)
        fields = {**fields, "judge": judge}
    settings = {k: v for k, v in fields.items() if k not in _SPEC_FIELDS}
    if not settings:
        return fields
    if "config" in fields:
        raise ArgumentError("give the settings as keywords or as config=, not both", field=next(iter(settings)), call=call)
    own = {k: v for k, v in fields.items() if k in _SPEC_FIELDS}
    return {**own, "config": judge_config(call, settings, arguments=[*arguments, *_SPEC_FIELDS])}


def make_spec(judge: str | None, fields: dict[str, object], *, call: str, argument: str = "judge",
              arguments: Collection[str] = ()) -> JudgeSpec:
    """A JudgeSpec from a caller's arguments; a bad one is an ArgumentError naming it as `call` has it
    (`argument`: its name for the spec string)."""
    checked = _spec_fields(judge, fields, call=call, argument=argument, arguments=arguments)
    try:
        return JudgeSpec.model_validate(checked)
    except ValidationError as exc:
        raise _argument_error(exc, call, argument) from None


def _argument_error(exc: ValidationError, call: str, argument: str) -> ArgumentError:
    """pydantic's first complaint about a JudgeSpec, named as `call`'s argument (`argument`: the spec string's)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    name = argument if loc[:1] == ["judge"] else ".".join(loc[1:] if loc[:1] == ["config"] and len(loc) > 1 else loc)
    message = first["msg"].removeprefix("Value error, ")
    got = "" if first["type"].startswith("value_error") or not loc else f" (got {first['input']!r})"
    return ArgumentError(message + got, field=name or None, call=call)


JudgeLike = str | JudgeSpec | Judge
"""What every entry point takes for its judge: a spec string, a JudgeSpec or a Judge."""


def judge_spec(judge: JudgeLike, *, call: str, argument: str = "judge", base_url: str | Sequence[str] | None = None,
               settings: Mapping[str, object] | None = None, arguments: Collection[str] = ()) -> JudgeSpec:
    """The one conversion of what a caller gave for a judge into a JudgeSpec: a spec string (with
    `base_url` and JudgeConfig's fields in `settings`, the shorthand some calls take), a JudgeSpec, or a
    Judge (the spec it was built from, for another process to build again). Errors name `call`'s
    argument (`argument`: its name for the judge; `arguments`: its other names, offered for a misspelled one)."""
    given = dict(settings or {})
    if base_url is not None:
        given["base_url"] = list(base_url) if not isinstance(base_url, str) else base_url
    if isinstance(judge, str):
        return make_spec(judge, given, call=call, argument=argument, arguments=arguments)
    if given:
        raise ArgumentError(f"{', '.join(sorted(given))}: settings of a spec string; this {type(judge).__name__} has its own",
                            field=argument, call=call)
    if isinstance(judge, JudgeSpec):
        return judge
    if isinstance(judge, Judge):
        if not judge._rebuildable:
            raise ArgumentError("this Judge was built over a backend or profile object, which another process cannot "
                                "build again; give a spec string or a JudgeSpec", field=argument, call=call)
        return judge.judge_spec
    raise ArgumentError(f"a judge is a spec string (e.g. 'openai:MODEL'), a JudgeSpec or a Judge, not {type(judge).__name__}",
                        field=argument, call=call)


def judge_or_spec(judge: JudgeLike, *, call: str, argument: str = "judge", base_url: str | Sequence[str] | None = None,
                  settings: Mapping[str, object] | None = None, arguments: Collection[str] = ()) -> Judge | JudgeSpec:
    """A Judge of this process as it is (used in place), else the JudgeSpec of what was given (judge_spec)."""
    if isinstance(judge, Judge) and base_url is None and not settings:
        return judge
    return judge_spec(judge, call=call, argument=argument, base_url=base_url, settings=settings, arguments=arguments)


async def rank_group(
    judge: Judge,
    rubric: RubricLike,
    prompt: Text,
    responses: Sequence[Text],
    *,
    strategy: str = "pointwise",
    reference: Text | None = None,
    adaptive: MetaRubric | str | Path | None = None,
) -> RankOutcome:
    """One reward in [0, 1] per response; run it on the judge's loop (inside judge.run / judge.arun).
    `rubric`: a Rubric, a rubric YAML file's path or its data (a dict). `adaptive`: a meta-rubric (a
    path or a MetaRubric): with the anchor or round_robin strategy, criteria are also written for
    each compared pair."""
    return await rank_group_with(judge, as_rubric(rubric, call="rank_group()"), prompt, responses, strategy=strategy,
                                 reference=reference, adaptive=adaptive)


async def rank_group_with(
    judge: Judge,
    rubric: Rubric,
    prompt: Text,
    responses: Sequence[Text],
    *,
    strategy: str = "pointwise",
    reference: Text | None = None,
    anchor_index: int | None = None,
    row: JSONObject | None = None,
    adaptive: MetaRubric | str | Path | None = None,
) -> RankOutcome:
    """`rank_group` with the anchor choice: `anchor_index` (default: the reference, else 0)."""
    from judgekit.judging.ranking import Group

    return await judgment.rank_group(judge.context(), rubric, Group(prompt, list(responses), reference, row), strategy=strategy,
                                     anchor_index=anchor_index, adaptive=_meta_rubric(adaptive))
