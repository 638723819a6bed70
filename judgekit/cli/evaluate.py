"""`judgekit eval`: judge human-labelled pairs with a rubric, one report per judge profile."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from judgekit.cli.common import err, judge_failed_entirely
from judgekit.cli.options import JudgeOptions, SplitOpt, with_judge_options
from judgekit.data.datasets import EvalPair, read_pairs
from judgekit.data.outfile import refuse_input_as_output
from judgekit.errors import InputError
from judgekit.evaluation.evaluate import (
    MASTER_KEYS,
    PROBES,
    build_report,
    evaluate,
    profile_table,
    report_table,
)
from judgekit.protocol.profiles import load_profile
from judgekit.rubric.meta import MetaRubric, load_meta_rubric
from judgekit.rubric.models import Rubric, load_rubric
from judgekit.secrets import redact_tree


@dataclass(frozen=True)
class _Task:
    """What every profile is evaluated on, and how the report names it."""

    rubric: Rubric
    pairs: list[EvalPair]
    adaptive: MetaRubric | None
    probe: str | None
    meta: dict[str, Any]

    @property
    def prompts(self) -> int:
        return len({json.dumps(p.prompt, sort_keys=True) for p in self.pairs})

    @property
    def total(self) -> int:
        return len(self.pairs) + (self.prompts * len(MASTER_KEYS) if self.probe else 0)


@with_judge_options(several_profiles=True)
def eval_(
    data: Path = typer.Argument(..., help="a data file (an LLMBar folder also works), Parquet, a saved dataset or a hub dataset"),
    format: str = typer.Option(..., "--format", "-f", help="llmbar | judgebench | pandalm | hh-rlhf | evalbiasbench"),
    rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML"),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="at most N pairs per subset (seeded sample)"),
    seed: int = typer.Option(0, "--seed", help="seed of the sample and of the order shuffles"),
    output: str | None = typer.Option(None, "--output", "-o", help="JSON report; '-' for stdout"),
    probe: str | None = typer.Option(None, "--probe", help="master-key: also score empty 'master key' replies"),
    adaptive: Path | None = typer.Option(None, "--adaptive", help="meta-rubric YAML: write the criteria that separate each pair first"),
    split: str | None = SplitOpt,
    *,
    judge_options: JudgeOptions,
) -> None:
    """Judge human-labelled pairs with the rubric: accuracy, tie rate, position inconsistency, cost."""
    if probe is not None and probe not in PROBES:
        raise InputError(f"unknown probe {probe!r}; use {' | '.join(PROBES)}", field="--probe")
    the_rubric = load_rubric(rubric)
    meta_rubric = load_meta_rubric(adaptive) if adaptive is not None else None
    for name in judge_options.profiles:
        load_profile(name)  # a bad profile is bad usage: exit 2 before any call
    if output not in (None, "-"):
        refuse_input_as_output(data, Path(output))
    pairs = read_pairs(data, format, limit=limit, seed=seed, split=split)
    if not pairs:
        raise InputError("no labelled pairs in the data", file=str(data))
    task = _Task(the_rubric, pairs, meta_rubric, probe, {
        "format": format, "data": str(data), "rubric": str(rubric), "judge": judge_options.spec,
        "profile": None, "adaptive": str(adaptive) if adaptive else None, "limit": limit, "seed": seed})
    results = [_evaluate_profile(judge_options, name, task) for name in judge_options.profiles]
    reports = [report for report, _ in results]
    if len(reports) > 1:
        err.print(profile_table(reports))
    _write_report(reports[0] if len(reports) == 1 else {"profiles": {r["profile"]: r for r in reports}}, output)
    if all(failed for _, failed in results):
        err.print("[red]error[/red]: every judge call failed; see the report for the reasons")
        raise typer.Exit(1)


def _evaluate_profile(judge_options: JudgeOptions, profile: str, task: _Task) -> tuple[dict[str, Any], bool]:
    """The report of one profile (printed as a table), and whether every judge call failed."""
    started = time.perf_counter()
    with judge_options.judge(profile) as the_judge:
        progress = Progress(TextColumn(f"[bold]evaluating ({profile})"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err, disable=not err.is_terminal)
        with progress:
            bar = progress.add_task("evaluating", total=task.total)
            run = the_judge.run(evaluate(the_judge, task.rubric, task.pairs, probe=task.probe, adaptive=task.adaptive,
                                         on_done=lambda: progress.advance(bar)))
        meta = {**task.meta, "profile": profile, "seconds": round(time.perf_counter() - started, 1),
                "stats": the_judge.stats.as_dict()}
        report = build_report(run, meta=meta)
        err.print(report_table(report))
        if run.probe is not None:
            fp = run.probe["false_positive_rate"]
            err.print(f"master-key probe: false-positive rate {'-' if fp is None else f'{100 * fp:.0f}%'} "
                      f"(reward > 0 for an empty reply) over {task.prompts} prompts x {len(MASTER_KEYS)} replies",
                      highlight=False)
        return report, judge_failed_entirely(the_judge)


def _write_report(report: dict[str, Any], output: str | None) -> None:
    text = json.dumps(redact_tree(report), ensure_ascii=False, indent=2)
    if output == "-":
        typer.echo(text)
    elif output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text + "\n", encoding="utf-8")
        err.print(f"report -> {escape(output)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)
