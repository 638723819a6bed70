"""Rewards for a group of responses to one prompt (a GRPO group), by three strategies
(docs/pairwise-and-ranking.md).

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

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, get_args

from judgekit.data.transcript import Text
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONObject, JSONValue
from judgekit.judging.pairwise import PairOutcome
from judgekit.judging.results import ScoreResult
from judgekit.judging.scoring import bradley_terry, margin_reward, strength_rewards
from judgekit.llm.fanout import gather_all

Strategy = Literal["pointwise", "anchor", "round_robin"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
MAX_CYCLES = 20


def check_strategy(name: str, field: str = "--strategy") -> Strategy:
    """`name` as a Strategy, or an InputError naming the known ones: the one check of a strategy name."""
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; use {' | '.join(STRATEGIES)}", field=field)
    return name


@dataclass
class RankOutcome:
    rewards: list[float | None]
    scores: list[dict[str, float | None]] | None
    cycles: list[list[int]]
    calls: int
    generated_criteria: list[dict[str, JSONValue]] | None = None  # rubric-rm: the prompt's written criteria
    coverage: list[float] | None = None  # pointwise: each response's scored share of the rubric's weight
    # adaptive: the criteria written for each compared pair, {"pair": [i, j], "criteria": [...]} (j -1: the reference)
    adaptive_criteria: list[dict[str, JSONValue]] | None = None


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


@dataclass(frozen=True)
class Group:
    """One prompt's responses to rank (and what the criteria may look at)."""

    prompt: Text
    responses: list[Text]
    reference: Text | None = None
    row: JSONObject | None = None  # the row's fields, for a profile's templates


@dataclass(frozen=True)
class Judgments:
    """How the members of a group are judged, by their index (judging.judgment supplies both, the
    config applied): one response alone, and one pair (A, B) in both orders (-1: the reference)."""

    score: Callable[[int], Awaitable[ScoreResult]]
    compare: Callable[[int, int], Awaitable[PairOutcome]]


async def rank_responses(
    group: Group, judgments: Judgments, *, strategy: str = "pointwise", anchor_index: int | None = None,
) -> RankOutcome:
    """One reward in [0, 1] per response of a non-empty group, by `strategy`. `anchor_index`: the
    anchor (default: the reference, else 0). `calls` is left at 0: the caller counts them."""
    if strategy == "pointwise":
        outs = await gather_all(*(judgments.score(i) for i in range(len(group.responses))))
        return RankOutcome([o.reward for o in outs], [o.scores for o in outs], [], 0, None, [o.coverage for o in outs])
    if strategy == "anchor":
        return RankOutcome(await _anchor_rewards(judgments, group, anchor_index), None, [], 0)
    rewards, cycles = await _round_robin(judgments, group)
    return RankOutcome(rewards, None, cycles, 0)


async def _anchor_rewards(judgments: Judgments, group: Group, anchor_index: int | None) -> list[float | None]:
    n = len(group.responses)
    if anchor_index is not None or group.reference is None:
        index = anchor_index or 0
        if not 0 <= index < n:
            raise InputError(f"--anchor-index {index} is outside the group of {n} responses", field="--anchor-index")
    else:
        index = -1  # the reference
    others = [i for i in range(n) if i != index]
    outs = await gather_all(*(judgments.compare(i, index) for i in others))
    rewards: list[float | None] = [0.5] * n
    for i, o in zip(others, outs):
        rewards[i] = margin_reward(o.margin)
    if index >= 0 and others and all(rewards[i] is None for i in others):
        rewards[index] = None  # the anchor's 0.5 means "ties with itself"; with no comparison judged it means nothing
    return rewards


async def _round_robin(judgments: Judgments, group: Group) -> tuple[list[float | None], list[list[int]]]:
    n = len(group.responses)
    pairs = list(itertools.combinations(range(n), 2))
    outs = await gather_all(*(judgments.compare(i, j) for i, j in pairs))
    by_pair = dict(zip(pairs, outs))
    games = [(i, j, (1.0 + o.margin) / 2.0) for (i, j), o in by_pair.items() if o.margin is not None]
    played = {k for i, j, _ in games for k in (i, j)}
    strengths = bradley_terry(n, games)
    rewards = [r if i in played or n == 1 else None for i, r in enumerate(strength_rewards(strengths))]
    return rewards, preference_cycles(n, by_pair)
