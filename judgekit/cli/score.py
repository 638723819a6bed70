"""`judgekit score`: each response against the rubric, one output row per input row."""

from __future__ import annotations

from pathlib import Path

import typer

from judgekit.cli.common import (
    ShotsFromOpt,
    ShotsOpt,
    err,
    exit_if_judge_failed,
    exit_if_run_failed,
    print_summary,
    rubric_check,
    rubric_with_shots,
)
from judgekit.cli.dryrun import dry_run
from judgekit.cli.options import (
    SCORING_PANEL,
    FileOptions,
    JudgeOptions,
    RayActorsOpt,
    RayOpt,
    RayShardRowsOpt,
    with_file_options,
    with_judge_options,
)
from judgekit.cli.rayfile import run_file_on_ray
from judgekit.cli.record import run_record
from judgekit.cli.runfile import OutputRow, run_file
from judgekit.data.rows import FileRows, InputRow
from judgekit.judging.results import ScoreResult
from judgekit.rubric.models import Rubric, load_rubric


@with_judge_options()
@with_file_options("scored", "prompt, response, id, reference, rubric")
def score(
    input: Path = typer.Argument(..., help="rows with prompt and response: JSONL, Parquet, a saved dataset or a hub dataset"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion",
                                 rich_help_panel=SCORING_PANEL),
    ray: bool = RayOpt,
    ray_actors: int = RayActorsOpt,
    ray_shard_rows: int = RayShardRowsOpt,
    shots: int | None = ShotsOpt,
    shots_from: Path | None = ShotsFromOpt,
    *,
    file_options: FileOptions,
    judge_options: JudgeOptions,
) -> None:
    """Score each response against the rubric: one output row per input row."""
    the_rubric = load_rubric(file_options.rubric) if file_options.rubric else None
    the_rubric = rubric_with_shots(the_rubric, shots, shots_from, judge_options.config.seed)
    rows = FileRows(input, ("prompt", "response"), mapping=file_options.fields, split=file_options.split,
                    check=rubric_check(the_rubric, str(input), judge_options.config.profile), limit=file_options.limit)
    count = rows.validate()
    if file_options.dry_run:
        dry_run("score", rows, the_rubric, judge_options)
        return
    out = file_options.output_for(input)
    if ray:
        # The driver holds the rows to cut them into shards; each actor streams its shard's output.
        summary = run_file_on_ray(list(rows), the_rubric, explain, judge_options, source=input, output=out,
                                  resume=file_options.resume, actors=ray_actors, shard_rows=ray_shard_rows,
                                  record=run_record("score", rows, judge_options, the_rubric, explain=explain))
        print_summary(summary, out)
        exit_if_run_failed(summary.stats, summary)
        return
    _score_here(rows, count, the_rubric, explain, judge_options, out, file_options.resume)


def _score_here(rows: FileRows, count: int, rubric: Rubric | None, explain: bool, judge_options: JudgeOptions,
                out: str, resume: bool) -> None:
    with judge_options.judge(check=False) as the_judge:  # run_file checks

        async def job(row: InputRow) -> OutputRow:
            return (await the_judge.ascore_row(row, rubric, explain)).model_dump()

        summary = run_file(the_judge, rows, count, job, output=out, resume=resume, console=err,
                           label="scoring", failed=lambda row, why: ScoreResult.failed(row.id, why).model_dump(),
                           record=run_record("score", rows, judge_options, rubric, explain=explain))
        print_summary(summary, out)
        exit_if_judge_failed(the_judge, summary)


def register(app: typer.Typer) -> None:
    app.command()(score)
