"""`judgekit score`: each response against the rubric, one output row per input row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from judgekit.cli.common import (
    default_output,
    err,
    exit_if_judge_failed,
    exit_if_run_failed,
    field_map,
    print_summary,
    require_rubrics,
)
from judgekit.cli.options import JudgeOptions, RayActorsOpt, RayOpt, RayShardRowsOpt, with_judge_options
from judgekit.cli.rayfile import run_file_on_ray
from judgekit.cli.runfile import run_file
from judgekit.data.rows import InputRow, read_jsonl
from judgekit.judging.results import ScoreResult
from judgekit.rubric.models import load_rubric


@with_judge_options()
def score(
    input: Path = typer.Argument(..., help="JSONL rows with prompt and response"),
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
    output: str | None = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.scored.jsonl]"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion"),
    field: list[str] = typer.Option([], "--field", help="remap an input field: NAME=KEY (prompt, response, id, reference, rubric)"),
    ray: bool = RayOpt,
    ray_actors: int = RayActorsOpt,
    ray_shard_rows: int = RayShardRowsOpt,
    *,
    judge_options: JudgeOptions,
) -> None:
    """Score each response against the rubric: one output row per input row."""
    rows = read_jsonl(input, required=("prompt", "response"), mapping=field_map(field))
    the_rubric = load_rubric(rubric) if rubric else None
    require_rubrics(rows, the_rubric, str(input), judge_options.config.profile)
    out = output or default_output(input, "scored")
    if ray:
        summary = run_file_on_ray(rows, the_rubric, explain, judge_options, source=input, output=out, resume=resume,
                                  actors=ray_actors, shard_rows=ray_shard_rows)
        print_summary(summary, out)
        exit_if_run_failed(summary.stats, summary)
        return
    with judge_options.judge() as the_judge:

        async def job(row: InputRow) -> dict[str, Any]:
            return (await the_judge.ascore_row(row, the_rubric, explain)).model_dump()

        summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err, label="scoring",
                           failed=lambda row, why: ScoreResult.failed(row.id, why).model_dump())
        print_summary(summary, out)
        exit_if_judge_failed(the_judge, summary)


def register(app: typer.Typer) -> None:
    app.command()(score)
