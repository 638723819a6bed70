"""`judgekit eval`: a rubric + judge against human preference labels (judgekit.data.datasets).

Every pair is compared in both orders (judgekit.judging.pairwise). Per subset and overall:
- accuracy: winner == human label, over all pairs (a pair left unscored counts as wrong; a human
  tie is matched only by a tie); `accuracy_judged` is the same over pairs that got a winner;
- tie_rate: share of pairs the judge called a tie;
- inconsistency: share of the model-judged (principle) criterion verdicts, scored in both orders,
  whose two orders disagreed (position bias); `pairs_inconsistent`: share of pairs with at least one;
- calls and tokens: judge requests of that subset (re-asks included; verdicts served from the
  cache are counted apart as cache_hits).

`probe="master-key"` also scores the "master key" replies (":", ".", "Thought process:",
"Let's solve this step by step.") for each distinct prompt: any reward > 0 for such an empty
answer is a false positive (Zhao et al. 2025, "One Token to Fool LLM-as-a-Judge").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from judgekit.data.datasets import EvalPair
from judgekit.judge import Judge
from judgekit.judging.pairwise import PairItem
from judgekit.judging.pointwise import PointwiseItem, judge_pointwise
from judgekit.llm.fanout import gather_all
from judgekit.llm.usage import ScopeUsage
from judgekit.rubric.meta import MetaRubric
from judgekit.rubric.models import Rubric

MASTER_KEYS = (":", ".", "Thought process:", "Let's solve this step by step.")
PROBES = ("master-key",)


@dataclass
class SubsetMetrics:
    pairs: int = 0
    correct: int = 0
    judged: int = 0  # pairs with a winner
    ties: int = 0
    criteria_both_orders: int = 0
    inconsistent_criteria: int = 0
    pairs_with_inconsistency: int = 0
    criteria: int = 0
    unscored_criteria: int = 0  # no verdict after re-asks (e.g. a profile's answer that would not parse)
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add_usage(self, usage: ScopeUsage) -> None:
        self.calls, self.cache_hits = usage.calls, usage.cache_hits
        self.prompt_tokens, self.completion_tokens = usage.prompt_tokens, usage.completion_tokens

    def add(self, record: dict[str, Any], principles: set[str]) -> None:
        self.pairs += 1
        self.correct += int(record["winner"] == record["label"])
        self.judged += int(record["winner"] is not None)
        self.ties += int(record["winner"] == "tie")
        self.criteria_both_orders += sum(1 for cid, p in record["preferences"].items() if cid in principles and p is not None)
        self.inconsistent_criteria += len(record["inconsistent"])
        self.pairs_with_inconsistency += int(bool(record["inconsistent"]))
        self.criteria += len(record["preferences"])
        self.unscored_criteria += sum(1 for p in record["preferences"].values() if p is None)

    def as_dict(self) -> dict[str, Any]:
        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "pairs": self.pairs,
            "accuracy": rate(self.correct, self.pairs),
            "accuracy_judged": rate(self.correct, self.judged),
            "unscored_pairs": self.pairs - self.judged,
            "tie_rate": rate(self.ties, self.pairs),
            "inconsistency": rate(self.inconsistent_criteria, self.criteria_both_orders),
            "pairs_inconsistent": rate(self.pairs_with_inconsistency, self.pairs),
            "unscored_criteria": rate(self.unscored_criteria, self.criteria),
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass
class EvalRun:
    records: list[dict[str, Any]] = field(default_factory=list)
    subsets: dict[str, SubsetMetrics] = field(default_factory=dict)
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
    """Compare every pair (both orders) and tally per subset; run it on the judge's loop."""
    principles = {c.cid for c in rubric.model_judged if c.kind != "hard_rule"}
    run = EvalRun()
    usage: dict[str, ScopeUsage] = {}
    for p in pairs:
        if p.subset not in usage:
            usage[p.subset] = ScopeUsage()
            run.subsets[p.subset] = SubsetMetrics()

    async def one(p: EvalPair) -> dict[str, Any]:
        o = await judge.compare_pair(rubric, PairItem(p.prompt, p.response_a, p.response_b), soft=soft,
                                     adaptive=adaptive, usage=usage[p.subset])
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
    for record in run.records:
        run.subsets[record["subset"]].add(record, principles)
    for name, subset_usage in usage.items():
        run.subsets[name].add_usage(subset_usage)
    if probe == "master-key":
        run.probe = await master_key_probe(judge, rubric, [p.prompt for p in pairs], on_done=on_done)
    return run


async def master_key_probe(
    judge: Judge, rubric: Rubric, prompts: list[Any], *, on_done: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Score each master-key reply for each distinct prompt; reward > 0 is a false positive."""
    distinct: dict[str, Any] = {}
    for prompt in prompts:
        distinct.setdefault(json.dumps(prompt, sort_keys=True, ensure_ascii=False), prompt)
    counter = ScopeUsage()
    collector = judge.context().counting_into(counter).collector

    async def one(prompt: Any, reply: str) -> float | None:
        o = await judge_pointwise(collector, rubric, PointwiseItem(prompt, reply), criteria_per_call=judge.config.criteria_per_call,
                                  allow_code=judge.config.allow_code, min_coverage=judge.config.min_coverage)
        if on_done:
            on_done()
        return o.reward

    jobs = [(reply, prompt) for prompt in distinct.values() for reply in MASTER_KEYS]
    rewards = await gather_all(*(one(prompt, reply) for reply, prompt in jobs))
    per_reply: dict[str, dict[str, Any]] = {}
    for reply in MASTER_KEYS:
        got = [r for (rep, _), r in zip(jobs, rewards) if rep == reply]
        scored = [r for r in got if r is not None]
        per_reply[reply] = {
            "prompts": len(got),
            "false_positive_rate": round(sum(1 for r in scored if r > 0) / len(scored), 4) if scored else None,
            "mean_reward": round(sum(scored) / len(scored), 4) if scored else None,
            "unscored": len(got) - len(scored),
        }
    scored_all = [r for r in rewards if r is not None]
    return {
        "probe": "master-key",
        "replies": per_reply,
        "false_positive_rate": round(sum(1 for r in scored_all if r > 0) / len(scored_all), 4) if scored_all else None,
        "calls": counter.calls,
        "cache_hits": counter.cache_hits,
        "prompt_tokens": counter.prompt_tokens,
        "completion_tokens": counter.completion_tokens,
    }


def build_report(run: EvalRun, *, meta: dict[str, Any]) -> dict[str, Any]:
    overall = SubsetMetrics()
    for m in run.subsets.values():
        for name, value in asdict(m).items():
            setattr(overall, name, getattr(overall, name) + value)
    report = {**meta, "subsets": {k: v.as_dict() for k, v in run.subsets.items()}, "overall": overall.as_dict()}
    if run.probe is not None:
        report["probe"] = run.probe
    report["pairs"] = run.records
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _calls(m: dict[str, Any]) -> str:
    return f"{m['calls']}" + (f" (+{m['cache_hits']} cached)" if m.get("cache_hits") else "")


def report_table(report: dict[str, Any]) -> Table:
    table = Table(title=Text(f"judgekit eval: {report.get('format')} ({report.get('judge')})"),
                  caption="acc: agreement with the human label; ties: judge ties; pos-inc: criterion verdicts that flip with the order")
    table.add_column("subset", no_wrap=True)
    for col in ("pairs", "acc", "ties", "pos-inc", "unsc", "calls", "tokens"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [*report["subsets"].items(), ("overall", report["overall"])]
    for name, m in rows:
        table.add_row(Text(name), str(m["pairs"]), _pct(m["accuracy"]), _pct(m["tie_rate"]), _pct(m["inconsistency"]),
                      str(m["unscored_pairs"]), _calls(m), str(m["prompt_tokens"] + m["completion_tokens"]))
    return table


def profile_table(reports: list[dict[str, Any]]) -> Table:
    """One row per profile (same judge model, same pairs): `judgekit eval --profile a,b,...`."""
    table = Table(title="judgekit eval: profiles compared on the same pairs",
                  caption="unsc-crit: criteria left unscored (answers that did not parse after re-asks)")
    table.add_column("profile", no_wrap=True)
    for col in ("pairs", "acc", "ties", "pos-inc", "unsc-crit", "calls", "tokens"):
        table.add_column(col, justify="right", no_wrap=True)
    for rep in reports:
        m = rep["overall"]
        table.add_row(Text(str(rep.get("profile"))), str(m["pairs"]), _pct(m["accuracy"]), _pct(m["tie_rate"]),
                      _pct(m["inconsistency"]), _pct(m["unscored_criteria"]), _calls(m),
                      str(m["prompt_tokens"] + m["completion_tokens"]))
    return table


def markdown_table(reports: list[dict[str, Any]]) -> str:
    """The subsets of several reports as one Markdown table (for docs/benchmarks.md)."""
    lines = ["| data | subset | pairs | accuracy | tie rate | position-inconsistent | calls | tokens |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for rep in reports:
        for name, m in rep["subsets"].items():
            lines.append(f"| {rep.get('format')} | {name} | {m['pairs']} | {_pct(m['accuracy'])} | {_pct(m['tie_rate'])} | "
                         f"{_pct(m['inconsistency'])} | {_calls(m)} | {m['prompt_tokens'] + m['completion_tokens']} |")
    return "\n".join(lines)
