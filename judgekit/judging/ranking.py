"""Rewards for a group of responses to one prompt (a GRPO group), by three strategies (SPEC section 3).

Every strategy returns one reward in [0, 1] (or None when unscorable) per response, in order:

- `pointwise`: each response scored alone; reward = the pointwise reward (HealthBench formula).
  Calls: n * K (K model-judged criteria, one per call; n with --criteria-per-call all).
- `anchor`: each response compared (both orders) with one anchor: the reference if given, else
  responses[anchor_index] (default 0, which then gets 0.5 without a call: a tie with itself;
  null when no other response could be compared with it);
  reward = (margin + 1) / 2. Calls: 2K per compared response: 2K * n with a reference,
  2K * (n - 1) without.
- `round_robin`: every pair compared (both orders), Bradley-Terry strengths fitted (MM, with a
  small prior so it converges under perfect separation) from the margins (i scores (1 + m) / 2
  against j); reward = the mean win probability against the other responses, p_i / (p_i + p_j),
  in [0, 1]. The decisive preferences form a directed graph (winner -> loser); its cycles are
  reported. Calls: 2K * n (n - 1) / 2 = K * n (n - 1).

K counts hard rules too (they are judged pointwise per side inside a pair, 2 calls per pair each);
checks cost no call. Calls are judge requests (re-asks included; cache hits and HTTP retries not).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from judgekit.llm.base import Completion, JudgeRequest
from judgekit.errors import InputError
from judgekit.judging.pairwise import PairItem, PairOutcome, judge_pairwise
from judgekit.judging.pointwise import PointwiseItem, judge_pointwise
from judgekit.rubric.models import Rubric
from judgekit.judging.scoring import bradley_terry, margin_reward, strength_rewards
from judgekit.judging.verdicts import VerdictCollector

if TYPE_CHECKING:
    from judgekit.judge import Judge

Strategy = Literal["pointwise", "anchor", "round_robin"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
MAX_CYCLES = 20


def check_strategy(name: str, field: str = "--strategy") -> Strategy:
    """`name` as a Strategy, or an InputError naming the known ones: the one check of a strategy name."""
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; use {' | '.join(STRATEGIES)}", field=field)
    return cast(Strategy, name)


@dataclass
class RankOutcome:
    rewards: list[float | None]
    scores: list[dict[str, int | None]] | None
    cycles: list[list[int]]
    calls: int
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm: the prompt's written criteria
    coverage: list[float] | None = None  # pointwise: each response's scored share of the rubric's weight


class _StatsView:
    """The judge's RunStats, passing every update through, noting this group's cache hits."""

    def __init__(self, inner: Any, owner: "_CountingRunner") -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "cache_hits":
            self._owner.cache_hits += value - self._inner.cache_hits
        setattr(self._inner, name, value)


class _CountingRunner:
    """The judge's call runner (same concurrency limit, retries, stats), counting this group's calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.stats = _StatsView(inner.stats, self)
        self.calls = 0
        self.cache_hits = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    async def call(self, request: JudgeRequest) -> Completion:
        self.calls += 1
        completion = await self.inner.call(request)
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        return completion


def counting_collector(judge: "Judge") -> tuple[VerdictCollector, _CountingRunner]:
    base = judge.collector()
    runner = _CountingRunner(base.runner)
    return base.with_runner(runner), runner


def preference_cycles(n: int, outcomes: dict[tuple[int, int], PairOutcome]) -> list[list[int]]:
    """Cycles of the graph with an edge winner -> loser for every decisive pair (networkx)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for (i, j), o in outcomes.items():
        if o.winner == "A":
            graph.add_edge(i, j)
        elif o.winner == "B":
            graph.add_edge(j, i)
    cycles: list[list[int]] = []
    for cycle in nx.simple_cycles(graph):
        start = cycle.index(min(cycle))
        cycles.append(cycle[start:] + cycle[:start])
        if len(cycles) >= MAX_CYCLES:
            break
    return sorted(cycles, key=lambda c: (len(c), c))


async def rank_group(
    judge: "Judge",
    rubric: Rubric,
    prompt: Any,
    responses: list[Any],
    *,
    strategy: str = "pointwise",
    reference: Any = None,
) -> RankOutcome:
    """One reward in [0, 1] per response; run it on the judge's loop (inside judge.run / judge.arun)."""
    return await rank_group_with(judge, rubric, prompt, responses, strategy=strategy, reference=reference)


async def rank_group_with(
    judge: "Judge",
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
    n = len(responses)
    if n == 0:
        return RankOutcome([], None, [], 0)
    collector, counter = counting_collector(judge)
    per_call, allow_code = judge.config.criteria_per_call, judge.config.allow_code
    rubric, generated = await judge.with_generated(rubric, prompt, reference)  # rubric-rm: one rubric per prompt

    async def pair(a: Any, b: Any) -> PairOutcome:
        return await judge_pairwise(
            collector, rubric, PairItem(prompt, a, b, reference, row), criteria_per_call=per_call, allow_code=allow_code
        )

    if strategy == "pointwise":
        outs = await asyncio.gather(*(
            judge_pointwise(collector, rubric, PointwiseItem(prompt, r, reference, row),
                            criteria_per_call=per_call, allow_code=allow_code, min_coverage=judge.config.min_coverage)
            for r in responses
        ))
        return RankOutcome([o.reward for o in outs], [o.scores for o in outs], [], counter.calls, generated,
                           [o.coverage for o in outs])

    if strategy == "anchor":
        if anchor_index is not None or reference is None:
            index = anchor_index or 0
            if not 0 <= index < n:
                raise InputError(f"--anchor-index {index} is outside the group of {n} responses", field="--anchor-index")
            anchor = responses[index]
        else:
            index, anchor = -1, reference
        others = [i for i in range(n) if i != index]
        outs = await asyncio.gather(*(pair(responses[i], anchor) for i in others))
        rewards: list[float | None] = [0.5] * n
        for i, o in zip(others, outs):
            rewards[i] = margin_reward(o.margin)
        if index >= 0 and others and all(rewards[i] is None for i in others):
            rewards[index] = None  # the anchor's 0.5 means "ties with itself"; with no comparison judged it means nothing
        return RankOutcome(rewards, None, [], counter.calls, generated)

    pairs = list(itertools.combinations(range(n), 2))
    outs = await asyncio.gather(*(pair(responses[i], responses[j]) for i, j in pairs))
    by_pair = dict(zip(pairs, outs))
    games = [(i, j, (1.0 + o.margin) / 2.0) for (i, j), o in by_pair.items() if o.margin is not None]
    played = {k for i, j, _ in games for k in (i, j)}
    strengths = bradley_terry(n, games)
    rewards = [r if i in played or n == 1 else None for i, r in enumerate(strength_rewards(strengths))]
    return RankOutcome(rewards, None, preference_cycles(n, by_pair), counter.calls, generated)
