"""`judgekit eval`: judge human-labelled data with a rubric, one report per judge profile.

Labelled pairs (llmbar, judgebench, pandalm, hh-rlhf, evalbiasbench) go through `compare`;
`labels` rows (a response with human verdicts per criterion) through `score`; RewardBench 2's
best-of-4 rows score each candidate. The data is streamed: one pass checks it (exit 2 before any
call), the next judges it with a bounded window in flight, each item's record written to a
companion JSONL beside the report (none with `-o -` or without -o) and only a few numbers per item
kept for the statistics. The statistics need scipy (the `eval` extra), imported when the command
runs so that the other commands work without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from judgekit.cli.common import (
    ShotsFromOpt,
    ShotsOpt,
    cost_line,
    err,
    judge_failed_entirely,
    print_agreement,
    print_cascade,
    print_if_every_call_failed,
    rubric_with_shots,
    write_json_report,
)
from judgekit.cli.options import IO_PANEL, SCORING_PANEL, JudgeOptions, SplitOpt, with_judge_options
from judgekit.cli.progress import RunProgress
from judgekit.data.datasets import (
    FORMATS,
    PAIR_FORMATS,
    BestOfN,
    EvalPair,
    LabelledRow,
    Stream,
    check_format,
    labelled_stream,
    pair_stream,
    rewardbench2_stream,
)
from judgekit.data.outfile import DiscardSink, RowSink, open_file_sink, refuse_input_as_output
from judgekit.errors import InputError
from judgekit.evaluation.probe import distinct_prompts
from judgekit.judge import Judge
from judgekit.judging.attacks import Family, attacks_per_row, select_families
from judgekit.protocol.profiles import load_profile
from judgekit.rubric.meta import MetaRubric, load_meta_rubric
from judgekit.rubric.models import Rubric, load_rubric

if TYPE_CHECKING:  # numpy: imported when eval runs
    import numpy as np
    from numpy.typing import NDArray

    Correct = NDArray[np.bool_]
Items = Stream[EvalPair] | Stream[LabelledRow] | Stream[BestOfN]


@dataclass(frozen=True)
class _Task:
    """What every profile is evaluated on, and how the report names it: labelled pairs, rows with
    labels per criterion, or best-of-n rows; and where each profile's records go."""

    rubric: Rubric
    items: Items
    adaptive: MetaRubric | None
    probe: dict[str, Family] | None
    meta: dict[str, Any]
    seed: int
    output: str | None
    several: bool  # several profiles: one companion file each
    suffix: str = ""  # of the companion files of a run with --shots

    @cached_property
    def prompts(self) -> int:
        return sum(1 for _ in distinct_prompts(p.prompt for p in self.items)) if self.probe else 0

    @property
    def total(self) -> int:
        probed = self.prompts * (1 + attacks_per_row(self.probe, self.rubric)) if self.probe else 0
        return len(self.items.scan()) + probed

    @property
    def records(self) -> str:
        """What the records are of, naming the companion file and the report's key for it."""
        return "pairs" if self.meta["format"] in PAIR_FORMATS else "rows"

    def records_file(self, profile: str) -> Path | None:
        """The companion JSONL of one profile's records: beside the report, named after it."""
        if self.output in (None, "-"):
            return None
        report = Path(self.output)
        name = f".{Path(profile).stem}" if self.several else ""  # a profile may be given as a YAML file's path
        name += self.suffix
        return report.with_name(f"{report.stem}{name}.{self.records}.jsonl")


def _read(data: Path, fmt: str, rubric: Rubric, limit: int | None, seed: int, split: str | None) -> Items:
    check_format(fmt)
    if fmt == "labels":
        return labelled_stream(data, [c.cid for c in rubric.criteria], limit=limit, seed=seed,
                               rated=[c.cid for c in rubric.criteria if c.scale is not None])
    if fmt == "rewardbench2":
        return rewardbench2_stream(data, limit=limit, seed=seed)
    if split is not None and fmt not in PAIR_FORMATS:
        raise InputError(f"--split is for tables of pairs; format {fmt} reads a JSONL file", field="--split")
    return pair_stream(data, fmt, limit=limit, seed=seed, split=split)


@with_judge_options(several_profiles=True)
def eval_(
    data: Path = typer.Argument(..., help="a data file (an LLMBar folder also works), Parquet, a saved dataset or a hub dataset"),
    format: str = typer.Option(..., "--format", "-f", help=" | ".join(FORMATS), rich_help_panel=IO_PANEL),
    rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML", rich_help_panel=IO_PANEL),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="at most N pairs (rows) per subset (seeded sample)",
                                      rich_help_panel=IO_PANEL),
    seed: int = typer.Option(0, "--seed", help="seed of the sample, the order shuffles and the bootstrap",
                      rich_help_panel=SCORING_PANEL),
    output: str | None = typer.Option(None, "--output", "-o", help="JSON report, its records beside it as "
                                      "REPORT.pairs.jsonl (or .rows.jsonl); '-' for stdout", rich_help_panel=IO_PANEL),
    probe: str | None = typer.Option(None, "--probe", help="also run the reward-hacking probe (as `judgekit probe`): all, "
                                      "or attack families comma-separated (master-key, padding, injection, ...)",
                                      rich_help_panel=SCORING_PANEL),
    adaptive: Path | None = typer.Option(None, "--adaptive", help="meta-rubric YAML: write the criteria that separate each pair first",
                                           rich_help_panel=SCORING_PANEL),
    split: str | None = SplitOpt,
    baseline: Path | None = typer.Option(None, "--baseline", help="an earlier eval report on the same pairs: add the accuracy difference",
                                           rich_help_panel=IO_PANEL),
    shots: int | None = ShotsOpt,
    shots_from: Path | None = ShotsFromOpt,
    *,
    judge_options: JudgeOptions,
) -> None:
    """Judge human-labelled data with the rubric: accuracy with its CI, kappa, ties, position consistency, cost."""
    from judgekit.evaluation import pair_report  # needs scipy: see the module docstring

    _check_pair_options(format, probe=probe, adaptive=adaptive, baseline=baseline)
    the_rubric = load_rubric(rubric)
    meta_rubric = load_meta_rubric(adaptive) if adaptive is not None else None
    for name in judge_options.profiles:
        load_profile(name)  # a bad profile is bad usage: exit 2 before any call
    base = pair_report.baseline_outcomes(baseline) if baseline is not None else None
    items = _read(data, format, the_rubric, limit, seed, split)
    scan = items.scan()  # reads and checks every item: bad input stops here, before any call
    if not len(scan):
        raise InputError("no labelled rows in the data", file=str(data))
    base_correct = pair_report.aligned(*base, scan.ids, file=str(baseline)) if base is not None else None
    families = select_families(probe, {}) if probe is not None else None
    task = _Task(the_rubric, items, meta_rubric, families, {
        "format": format, "data": str(data), "rubric": str(rubric), "judge": judge_options.spec.name,
        "profile": None, "adaptive": str(adaptive) if adaptive else None, "limit": limit, "seed": seed}, seed,
        output, len(judge_options.profiles) > 1)
    _refuse_writing_the_data(data, task, judge_options.profiles)
    if shots is not None or shots_from is not None:
        _eval_with_and_without_shots(judge_options, task, rubric_with_shots(the_rubric, shots, shots_from, seed), shots)
        return
    results = [_evaluate_profile(judge_options, name, task) for name in judge_options.profiles]
    reports = [report for report, _, _ in results]
    if base_correct is not None:
        for report, _, correct in results:
            assert correct is not None  # --baseline is for pairs
            report["difference"] = {"baseline": str(baseline), **pair_report.difference(base_correct, correct, seed=seed)}
    write_json_report(_combined(reports, [correct for _, _, correct in results], format, seed), output, "report")
    if all(failed for _, failed, _ in results):
        err.print("[red]error[/red]: every judge call failed (the first reasons are above; each item's is in the report)")
        raise typer.Exit(1)


def _eval_with_and_without_shots(judge_options: JudgeOptions, task: _Task, rubric: Rubric | None, shots: int | None) -> None:
    """The same data judged without and with the drawn examples; for pairs, the accuracy difference with
    its paired bootstrap interval (as between profiles)."""
    from judgekit.evaluation.pair_report import difference

    if len(judge_options.profiles) > 1:
        raise InputError("--shots compares one profile with and without examples; give one --profile", field="--shots")
    assert rubric is not None
    with_shots = replace(task, rubric=rubric, meta={**task.meta, "shots": shots}, suffix=".shots")
    (plain, plain_failed, plain_correct), (shot, shot_failed, shot_correct) = (
        _evaluate_profile(judge_options, judge_options.profiles[0], t) for t in (task, with_shots))
    report: dict[str, Any] = {"without_shots": plain, "with_shots": shot}
    if plain_correct is not None and shot_correct is not None:
        report["difference"] = {"baseline": "without_shots", **difference(plain_correct, shot_correct, seed=task.seed)}
        gain = report["difference"]
        err.print(f"with {shots} shots: accuracy {gain['accuracy']:+.3f} (95% CI {gain['accuracy_ci'][0]:+.3f} .. "
                  f"{gain['accuracy_ci'][1]:+.3f}) over {gain['n']} pairs", highlight=False)
    write_json_report(report, task.output, "report")
    if plain_failed and shot_failed:
        err.print("[red]error[/red]: every judge call failed (the first reasons are above; each item's is in the report)")
        raise typer.Exit(1)


def _refuse_writing_the_data(data: Path, task: _Task, profiles: tuple[str, ...]) -> None:
    """Exit 2 before any call when the report or a companion file is the data file."""
    if task.output in (None, "-"):
        return
    refuse_input_as_output(data, Path(task.output))
    for name in profiles:
        records = task.records_file(name)
        if records is not None:
            refuse_input_as_output(data, records)


def _check_pair_options(fmt: str, **given: object) -> None:
    probe = given.get("probe")
    if isinstance(probe, str):
        select_families(probe, {})  # an unknown family is bad usage: exit 2 before any call
    for name, value in given.items():
        if value is not None and fmt not in PAIR_FORMATS:
            raise InputError(f"--{name} works on labelled pairs ({' | '.join(PAIR_FORMATS)}), not on {fmt}", field=f"--{name}")


def _combined(reports: list[dict[str, Any]], correct: list[Correct | None], fmt: str, seed: int) -> dict[str, Any]:
    """One profile's report, or several profiles' with (for pairs) each one's accuracy difference from the first."""
    from judgekit.evaluation.pair_report import difference
    from judgekit.evaluation.tables import profile_table

    if len(reports) == 1:
        return reports[0]
    if fmt not in PAIR_FORMATS:
        return {"profiles": {r["profile"]: r for r in reports}}
    first = correct[0]
    assert first is not None
    gains = {r["profile"]: difference(first, c, seed=seed) for r, c in zip(reports[1:], correct[1:]) if c is not None}
    combined = {"profiles": {r["profile"]: r for r in reports},
                "difference": {"baseline": reports[0]["profile"], "profiles": gains}}
    err.print(profile_table(reports, combined["difference"]))
    return combined


def _evaluate_profile(judge_options: JudgeOptions, profile: str, task: _Task) -> tuple[dict[str, Any], bool, Correct | None]:
    """The report of one profile (printed as a table), whether every judge call failed, and (pairs) which
    pairs the judge got right."""
    started, started_at = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    with judge_options.judge(profile) as the_judge, _records_sink(task, profile) as (sink, records):
        progress = RunProgress(f"evaluating ({profile})", task.total, 0,
                               lambda: (the_judge.stats.calls, the_judge.stats.cache_hits), err)
        with progress.shown():
            report, correct = _run(the_judge, task, sink, progress.advance)
        if progress.notices.counts:
            report["notices"] = dict(progress.notices.counts)
        if records is not None:
            report[f"{task.records}_file"] = records.name  # beside the report
        report.update(judge=the_judge.spec, profile=profile, seconds=round(time.perf_counter() - started, 1), date=started_at,
                      stats=the_judge.stats.as_dict(), cost_usd=the_judge.cost_usd, **the_judge.agreement.as_dict())
        print_agreement(the_judge.agreement.as_dict())
        if the_judge.cascade is not None:
            report["cascade"] = the_judge.cascade.as_dict()
            print_cascade(report["cascade"])
        err.print(f"  {cost_line(the_judge.cost_usd, the_judge.pricing.reason, 0)}", highlight=False)
        print_if_every_call_failed(the_judge)
        return report, judge_failed_entirely(the_judge), correct


@contextmanager
def _records_sink(task: _Task, profile: str) -> Iterator[tuple[RowSink, Path | None]]:
    """Where one profile's records go: its companion file (written in input order as they finish), or nowhere."""
    path = task.records_file(profile)
    if path is None:
        yield DiscardSink(), None
        return
    sink, _ = open_file_sink(path, Path(task.meta["data"]), lambda: iter(()), resume=False)
    try:
        yield sink, path
    finally:
        sink.close()


def _run(judge: Judge, task: _Task, sink: RowSink, on_done: Callable[[], None]) -> tuple[dict[str, Any], Correct | None]:
    from judgekit.evaluation.best_of_n import best_of_n_report, evaluate_best_of_n
    from judgekit.evaluation.evaluate import evaluate
    from judgekit.evaluation.labels import evaluate_labels, labels_report
    from judgekit.evaluation.pair_report import build_report
    from judgekit.evaluation.tables import criteria_table, pct, report_table

    meta, seed, items = task.meta, task.seed, task.items
    if task.meta["format"] == "labels":
        rows = cast("Stream[LabelledRow]", items)
        report = labels_report(judge.run(evaluate_labels(judge, task.rubric, rows, sink, on_done=on_done)), meta=meta, seed=seed)
        err.print(criteria_table(report))
        return report, None
    if task.meta["format"] == "rewardbench2":
        groups = cast("Stream[BestOfN]", items)
        report = best_of_n_report(judge.run(evaluate_best_of_n(judge, task.rubric, groups, sink, on_done=on_done)),
                                  meta=meta, seed=seed)
        err.print(report_table(report))
        return report, None
    pairs = cast("Stream[EvalPair]", items)
    run = judge.run(evaluate(judge, task.rubric, pairs, sink, probe=task.probe, seed=seed, adaptive=task.adaptive, on_done=on_done))
    report = build_report(run, meta=meta, seed=seed)
    err.print(report_table(report))
    if run.probe is not None:
        rates = ", ".join(f"{name} {pct(a['false_positive_rate'])}" for name, a in run.probe["attacks"].items())
        err.print(f"probe over {task.prompts} prompts: false-positive rate (reward > 0 for an attack response) {rates}",
                  highlight=False)
    return report, run.outcomes.correct


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)
