"""`judgekit probe`: how often the judge rewards responses that should earn nothing (SPEC section 10).

Exit 0 whatever the rates; 4 with `--fail-above F` when a rate exceeds F; 3 at a --max-cost/--max-calls
limit (the report holds what was judged); 2 for bad input (an unknown family, a rate outside [0, 1]).
Several configurations (`--profile a,b`, `--vary KEY=VALUE`) run on the same attacks, each one's rates
compared with the first's by a paired bootstrap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from judgekit.cli.common import cost_line, err, judge_failed_entirely, print_if_every_call_failed, write_json_report
from judgekit.cli.options import IO_PANEL, SCORING_PANEL, JudgeOptions, number_option, with_judge_options
from judgekit.config import JudgeConfig
from judgekit.data.outfile import refuse_input_as_output
from judgekit.data.rows import FileRows
from judgekit.errors import InputError
from judgekit.judging.attacks import Family, attacks_per_row, load_attack_file, select_families
from judgekit.panel import load_panel
from judgekit.rubric.models import Rubric, load_rubric

if TYPE_CHECKING:  # loaded when a probe runs
    from judgekit.evaluation.probe import ProbeRun

FAIL_EXIT = 4


@dataclass(frozen=True)
class Configuration:
    name: str
    options: JudgeOptions
    profile: str | None = None


def configurations(options: JudgeOptions, varies: list[str]) -> list[Configuration]:
    """The configurations to probe: each --profile, then the first profile with each --vary applied."""
    found = [Configuration(p if len(options.profiles) > 1 else "base", options, p) for p in options.profiles]
    for vary in varies:
        changed = options
        for item in vary.split(","):
            key, sep, value = item.partition("=")
            key = key.strip().lstrip("-").replace("-", "_")
            if not sep or not key:
                raise InputError(f"--vary takes KEY=VALUE[,KEY=VALUE], got {vary!r}", field="--vary")
            changed = _varied(changed, key, value.strip())
        found.append(Configuration(vary, changed, changed.config.profile))
    return found


def _varied(options: JudgeOptions, key: str, value: str) -> JudgeOptions:
    if key == "panel":
        return replace(options, spec=load_panel(Path(value)).with_config(options.config))
    if key not in JudgeConfig.model_fields:
        raise InputError(f"--vary: unknown setting {key!r}; use a judge option such as profile, criteria_per_call, samples, "
                         "temperature or panel", field="--vary")
    try:
        config = JudgeConfig.model_validate({**options.config.model_dump(), key: yaml.safe_load(value)})
    except ValidationError as exc:
        raise InputError(f"--vary {key}={value}: {exc.errors()[0]['msg']}", field="--vary") from None
    return replace(options, spec=options.spec.with_config(config))


@with_judge_options(several_profiles=True)
def probe(
    data: Path = typer.Argument(..., help="rows with a prompt (and a response and reference where present)"),
    rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML", rich_help_panel=IO_PANEL),
    attacks: str = typer.Option("all", "--attacks", "-a", help="all, or attack families comma-separated",
                                rich_help_panel=SCORING_PANEL),
    attacks_file: Path | None = typer.Option(None, "--attacks-file", help="YAML file of more attack families (templates over the row)",
                                             rich_help_panel=SCORING_PANEL),
    output: str | None = typer.Option(None, "--output", "-o", help="probe.json; '-' for stdout", rich_help_panel=IO_PANEL),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="the first N rows only", rich_help_panel=IO_PANEL),
    seed: int = typer.Option(0, "--seed", help="seed of the attack texts and the bootstrap", rich_help_panel=SCORING_PANEL),
    pairwise: bool = typer.Option(False, "--pairwise", help="also compare each attack with the row's response (both orders)",
                                  rich_help_panel=SCORING_PANEL),
    fail_above: float | None = number_option(None, "--fail-above", min=0.0, max=1.0, panel=SCORING_PANEL,
                                             help="exit 4 when any false-positive (or pairwise win) rate exceeds F"),
    vary: list[str] = typer.Option([], "--vary", help="another configuration to compare: KEY=VALUE[,KEY=VALUE] "
                                   "(e.g. criteria_per_call=all, samples=3, panel=panel.yaml); repeat", rich_help_panel=SCORING_PANEL),
    *,
    judge_options: JudgeOptions,
) -> None:
    """Score attack responses built from each row; report how often the judge rewards them."""
    from judgekit.evaluation.probe_report import compare_configurations, max_rate

    the_rubric = load_rubric(rubric)
    extra = load_attack_file(attacks_file) if attacks_file is not None else {}
    families = select_families(attacks, extra)
    configs = configurations(judge_options, vary)
    rows = FileRows(data, ("prompt",), optional=("response", "reference"), limit=limit)
    count = rows.validate()
    if not count:
        raise InputError("no rows in the data", file=str(data))
    if output not in (None, "-"):
        refuse_input_as_output(data, Path(output))
    reports, runs, failed = [], [], []
    total = count * (1 + attacks_per_row(families, the_rubric))
    for config in configs:
        report, run, failed_entirely = _probe_one(config, the_rubric, rows, (families, total), seed, pairwise, keep=len(configs) > 1)
        failed.append(failed_entirely)
        report.update(rubric=str(rubric), data=str(data), seed=seed)
        reports.append(report)
        runs.append(run)
        if run.stopped:
            break
    final = reports[0] if len(configs) == 1 else {
        "configurations": {c.name: r for c, r in zip(configs, reports)},
        **({"difference": compare_configurations([c.name for c in configs[:len(runs)]], runs, seed)} if len(runs) > 1 else {})}
    write_json_report(final, output, "probe")
    if runs[-1].stopped:
        err.print(escape(runs[-1].stopped), highlight=False)
        raise typer.Exit(runs[-1].exit_code)
    if all(failed):
        err.print("[red]error[/red]: every judge call failed (the first reasons are above)")
        raise typer.Exit(1)
    worst = [m for m in (max_rate(r) for r in reports) if m is not None]
    if fail_above is not None and worst and (top := max(worst, key=lambda m: m[1]))[1] > fail_above:
        err.print(f"[red]failed[/red]: {escape(top[0])} false-positive rate {top[1]:.2f} > --fail-above {fail_above:g}")
        raise typer.Exit(FAIL_EXIT)


def _probe_one(config: Configuration, rubric: Rubric, rows: FileRows, suite: tuple[dict[str, Family], int], seed: int,
               pairwise: bool, *, keep: bool) -> tuple[dict[str, Any], ProbeRun, bool]:
    from judgekit.evaluation.probe import probe_rows
    from judgekit.evaluation.probe_report import probe_summary

    started = time.perf_counter()
    families, total = suite
    progress = Progress(TextColumn(f"[bold]probing ({escape(config.name)})"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, disable=not err.is_terminal)
    with config.options.judge(config.profile) as judge, progress:
        bar = progress.add_task("probing", total=total)
        run = judge.run(probe_rows(judge, rubric, rows, families, seed=seed, pairwise=pairwise, keep_outcomes=keep,
                                   on_done=lambda: progress.advance(bar)))
        summary = probe_summary(run, seed)
        seconds = time.perf_counter() - started
        summary.update(judge=judge.spec, profile=judge.config.profile, configuration=config.name, calls=judge.stats.calls,
                       cost_usd=judge.cost_usd, seconds=round(seconds, 1),
                       seconds_per_row=round(seconds / run.rows, 3) if run.rows else None,
                       calls_per_row=round(judge.stats.calls / run.rows, 2) if run.rows else None)
        err.print(probe_table(summary, config.name))
        err.print(f"  {cost_line(judge.cost_usd, judge.pricing.reason, 0)}", highlight=False)
        print_if_every_call_failed(judge)
        return summary, run, judge_failed_entirely(judge)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def probe_table(summary: dict[str, Any], name: str) -> Table:
    table = Table(title=f"probe ({escape(name)}): {summary['rows']} rows, {summary['calls']} calls", title_justify="left")
    for column in ("family", "n", "false positives", "95% CI", "mean reward", "delta vs real", "attack wins (pairwise)"):
        table.add_column(column)
    for family, a in summary["attacks"].items():
        ci = f"{_pct(a['fpr_ci'][0])} - {_pct(a['fpr_ci'][1])}" if a["fpr_ci"] else "-"
        pairs = a.get("pairwise")
        table.add_row(family, str(a["n"]), _pct(a["false_positive_rate"]), ci, _num(a["mean_reward"]), _num(a["reward_delta"]),
                      _pct(pairs["attack_win_rate"]) if pairs else "-")
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}" if value < 0 else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
