"""`judgekit eval` on labelled pairs: every pair compared in both orders (judgekit.judging.pairwise),
one record per pair, and the judge's calls and tokens counted per subset. The statistics of the
records are judgekit.evaluation.pair_report's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgekit.data.datasets import EvalPair
from judgekit.evaluation.probe import master_key_probe
from judgekit.judge import Judge
from judgekit.judging.pairwise import PairItem
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.meta import MetaRubric
from judgekit.rubric.models import Rubric


@dataclass
class EvalRun:
    records: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, ScopeUsage] = field(default_factory=dict)  # per subset
    principles: frozenset[str] = frozenset()  # the model-judged criteria asked in both orders
    probe: dict[str, Any] | None = None


async def evaluate(
    judge: Judge,
    rubric: Rubric,
    pairs: list[EvalPair],
    *,
    probe: str | None = None,
    soft: bool | None = None,
    on_done: Callable[[], None] | None = None,
    adaptive: MetaRubric | str | Path | None = None,
) -> EvalRun:
    """Compare every pair (both orders), one record each in input order; run it on the judge's loop."""
    run = EvalRun(principles=frozenset(c.cid for c in rubric.model_judged if c.kind != "hard_rule"))
    for p in pairs:
        run.usage.setdefault(p.subset, ScopeUsage())

    async def one(p: EvalPair) -> dict[str, Any]:
        o = await judge.compare_pair(rubric, PairItem(p.prompt, p.response_a, p.response_b), soft=soft,
                                     adaptive=adaptive, usage=run.usage[p.subset])
        if on_done:
            on_done()
        record: dict[str, Any] = {"id": p.id, "subset": p.subset, "label": p.label, "winner": o.winner, "margin": o.margin,
                                  "preferences": o.preferences, "inconsistent": o.inconsistent}
        if o.unscored:
            record["unscored"] = o.unscored
        if o.soft is not None:
            record["soft"] = o.soft
        return record

    run.records = await gather_all(*(one(p) for p in pairs))
    if probe == "master-key":
        run.probe = await master_key_probe(judge, rubric, [p.prompt for p in pairs], on_done=on_done)
    return run
