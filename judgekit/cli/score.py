"""`judgekit score`: each response against the rubric, one output row per input row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from judgekit.cli.common import err, exit_if_judge_failed, print_summary, rubric_check
from judgekit.cli.options import FileOptions, JudgeOptions, with_file_options, with_judge_options
from judgekit.cli.runfile import run_file
from judgekit.data.rows import FileRows, InputRow
from judgekit.judging.results import ScoreResult
from judgekit.rubric.models import load_rubric


@with_judge_options()
@with_file_options("scored", "prompt, response, id, reference, rubric")
def score(
    input: Path = typer.Argument(..., help="rows with prompt and response: JSONL, Parquet, a saved dataset or a hub dataset"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion"),
    *,
    file_options: FileOptions,
    judge_options: JudgeOptions,
) -> None:
    """Score each response against the rubric: one output row per input row."""
    the_rubric = load_rubric(file_options.rubric) if file_options.rubric else None
    rows = FileRows(input, ("prompt", "response"), mapping=file_options.fields, split=file_options.split,
                    check=rubric_check(the_rubric, str(input), judge_options.config.profile))
    count = rows.validate()
    out = file_options.output_for(input)
    with judge_options.judge() as the_judge:

        async def job(row: InputRow) -> dict[str, Any]:
            return (await the_judge.ascore_row(row, the_rubric, explain)).model_dump()

        summary = run_file(the_judge, rows, count, job, output=out, resume=file_options.resume, console=err,
                           label="scoring", failed=lambda row, why: ScoreResult.failed(row.id, why).model_dump())
        print_summary(summary, out)
        exit_if_judge_failed(the_judge, summary)


def register(app: typer.Typer) -> None:
    app.command()(score)
