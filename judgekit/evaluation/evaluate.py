"""`judgekit eval` on labelled pairs: every pair compared in both orders (judgekit.judging.pairwise),
streamed through the judge with a bounded window (judgekit.evaluation.stream). Each pair's record
goes to a sink (the companion JSONL); the run keeps only its compact outcome (PairOutcomes: a few
small integers per pair) and the judge's calls and tokens per subset. The statistics of the
outcomes are judgekit.evaluation.pair_report's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judgekit.data.datasets import EvalPair, Scan, Stream
from judgekit.data.outfile import RowSink
from judgekit.data.transcript import as_text
from judgekit.evaluation.probe import pair_rows, probe_rows
from judgekit.evaluation.run_page import cut
from judgekit.evaluation.stream import judge_stream
from judgekit.judge import Judge
from judgekit.judging.attacks import Family
from judgekit.judging.judgment import compare_pair
from judgekit.judging.pairwise import PairItem
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.meta import MetaRubric, load_meta_rubric
from judgekit.rubric.models import Rubric

CATEGORIES = ("A", "B", "tie")  # a label or winner as its code; -1: none (an unscored pair)
Counts = NDArray[np.int16]


def category(value: str | None) -> int:
    return CATEGORIES.index(value) if value in CATEGORIES else -1


@dataclass
class PairOutcomes:
    """Per pair (in input order) what the statistics need of its record: its subset, the label and the
    judge's winner as category codes, and its criterion counts."""

    names: list[str]  # the subsets; `subset` indexes them
    subset: NDArray[np.int32]
    ids: NDArray[np.uint64]  # the pairs' id hashes (judgekit.data.rows.id_hash)
    label: NDArray[np.int8]
    winner: NDArray[np.int8]
    both_orders: Counts  # model-judged principles with a verdict in both orders
    flipped: Counts  # criteria whose verdict flips with the order
    criteria: Counts  # criteria asked
    unscored: Counts  # criteria without a verdict
    principles: frozenset[str] = frozenset()  # the model-judged criteria asked in both orders

    @classmethod
    def empty(cls, scan: Scan, principles: frozenset[str]) -> PairOutcomes:
        n = len(scan)
        return cls(scan.names, scan.subset, scan.ids, np.full(n, -1, np.int8), np.full(n, -1, np.int8),
                   np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16), principles)

    def keep(self, index: int, record: dict[str, Any]) -> None:
        prefs = record["preferences"]
        self.label[index], self.winner[index] = category(record["label"]), category(record["winner"])
        self.both_orders[index] = sum(1 for cid, p in prefs.items() if cid in self.principles and p is not None)
        self.flipped[index] = len(record["inconsistent"])
        self.criteria[index] = len(prefs)
        self.unscored[index] = sum(p is None for p in prefs.values())

    def take(self, which: NDArray[np.bool_]) -> PairOutcomes:
        """The outcomes of the pairs `which` selects (a subset's)."""
        return PairOutcomes(self.names, self.subset[which], self.ids[which], self.label[which], self.winner[which],
                            self.both_orders[which], self.flipped[which], self.criteria[which], self.unscored[which],
                            self.principles)

    @property
    def correct(self) -> NDArray[np.bool_]:
        """The judge's winner is the label (a judge tie matches only a human tie; unscored is wrong)."""
        return (self.winner == self.label) & (self.winner >= 0)

    def __len__(self) -> int:
        return len(self.label)


@dataclass
class EvalRun:
    outcomes: PairOutcomes
    usage: dict[str, ScopeUsage] = field(default_factory=dict)  # per subset
    probe: dict[str, Any] | None = None


def pair_texts(p: EvalPair, reasoning: dict[str, str]) -> dict[str, Any]:
    """What the report's page shows of a pair: its texts (each cut at `TEXT_CAP`) and the judge's reasoning in
    both orders, so a reader can see why the judge erred."""
    texts = {k: cut(v) for k, v in (("prompt", p.prompt), ("response_a", p.response_a), ("response_b", p.response_b))}
    return {**texts, **({"explanations": {k: cut(v) for k, v in reasoning.items()}} if reasoning else {})}


async def evaluate(
    judge: Judge,
    rubric: Rubric,
    pairs: Stream[EvalPair],
    sink: RowSink,
    *,
    probe: dict[str, Family] | None = None,
    seed: int = 0,
    soft: bool | None = None,
    on_done: Callable[[], None] | None = None,
    adaptive: MetaRubric | str | Path | None = None,
) -> EvalRun:
    """Compare every pair (both orders), each record to `sink` in input order; run it on the judge's loop."""
    scan = pairs.scan()
    principles = frozenset(c.cid for c in rubric.model_judged if c.kind != "hard_rule")
    run = EvalRun(PairOutcomes.empty(scan, principles), {name: ScopeUsage() for name in scan.names})

    context = judge.context()
    meta = load_meta_rubric(adaptive) if adaptive is not None else None

    async def one(p: EvalPair) -> dict[str, Any]:
        o = await compare_pair(context.counting_into(run.usage[p.subset]), rubric, PairItem(as_text(p.prompt), p.response_a, p.response_b),
                               soft=soft, adaptive=meta)
        record: dict[str, Any] = {"id": p.id, "subset": p.subset, "label": p.label, "winner": o.winner, "margin": o.margin,
                                  "preferences": o.preferences, "inconsistent": o.inconsistent}
        if o.unscored:
            record["unscored"] = o.unscored
        if o.soft is not None:
            record["soft"] = o.soft
        return {**record, **pair_texts(p, o.reasoning)}

    await judge_stream(pairs, one, run.outcomes.keep, sink, workers=judge.config.concurrency, on_done=on_done)
    if probe:
        from judgekit.evaluation.probe_report import overall_rate, probe_summary

        calls = judge.stats.calls
        probed = await probe_rows(judge, rubric, pair_rows(pairs), probe, seed=seed, on_done=on_done)
        run.probe = {**probe_summary(probed, seed), "false_positive_rate": overall_rate(probed), "calls": judge.stats.calls - calls}
    return run
