"""`judgekit compare` (two responses per row, both orders) and `judgekit rank` (a group of responses per row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from judgekit.cli.common import (
    default_output,
    err,
    exit_if_judge_failed,
    field_map,
    print_summary,
    require_rubrics,
)
from judgekit.cli.options import JudgeOptions, StrategyOpt, with_judge_options
from judgekit.cli.runfile import run_file
from judgekit.data.rows import InputRow, pair_label, read_jsonl
from judgekit.errors import InputError
from judgekit.judge import rank_group_with, rubric_for
from judgekit.judging.outcomes import rank_result
from judgekit.judging.results import CompareResult, RankResult
from judgekit.rubric.meta import load_meta_rubric
from judgekit.rubric.models import load_rubric


@with_judge_options()
def compare(
    input: Path = typer.Argument(..., help="JSONL rows with prompt, response_a, response_b (optional label)"),
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
    output: str | None = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.compared.jsonl]"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion (both orders)"),
    adaptive: Path | None = typer.Option(None, "--adaptive",
        help="meta-rubric YAML (e.g. rubrics/meta/pairwise.yaml): first write the "
        "criteria that separate each pair",
    ),
    field: list[str] = typer.Option([], "--field",
        help="remap an input field: NAME=KEY (prompt, response_a, response_b, "
        "id, reference, label, rubric)",
    ),
    *,
    judge_options: JudgeOptions,
) -> None:
    """Compare two responses per row, criterion by criterion, in both orders: winner, margin, preferences."""
    rows = _read_pairs(input, field)
    the_rubric = load_rubric(rubric) if rubric else None
    meta = load_meta_rubric(adaptive) if adaptive is not None else None
    require_rubrics(rows, the_rubric, str(input), judge_options.config.profile, meta)
    out = output or default_output(input, "compared")
    with judge_options.judge() as the_judge:
        tally = _Tally()

        async def job(row: InputRow) -> dict[str, Any]:
            obj = (await the_judge.acompare_row(row, the_rubric, explain, adaptive=meta)).model_dump()
            tally.count(obj, row.fields.get("label"))
            return obj

        def failed(row: InputRow, why: str) -> dict[str, Any]:
            tally.unscored += 1
            return CompareResult.failed(row.id, why).model_dump()

        summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err,
                           label="comparing", failed=failed)
        print_summary(summary, out)
        tally.print()
        exit_if_judge_failed(the_judge, summary)


def _read_pairs(input: Path, field: list[str]) -> list[InputRow]:
    """The rows to compare, each `label` read as A, B or tie."""
    rows = read_jsonl(input, required=("prompt", "response_a", "response_b"), optional=("reference", "label"),
                      mapping=field_map(field))
    for row in rows:
        label = row.fields.get("label")
        if label is not None:
            row.fields["label"] = pair_label(label)
            if row.fields["label"] is None:
                raise InputError(f"label must be A, B or tie (or LLMBar's 1|2, JudgeBench's A>B|B>A|A=B), got {label!r}",
                                 file=str(input), line=row.line, field="label")
    return rows


class _Tally:
    """Winners, position-inconsistent criteria and agreement with the rows' labels, for the summary."""

    def __init__(self) -> None:
        self.winners = {"A": 0, "B": 0, "tie": 0}
        self.unscored = self.inconsistent = self.labelled = self.agree = 0

    def count(self, row: dict[str, Any], label: str | None) -> None:
        if row["winner"] is None:
            self.unscored += 1
        else:
            self.winners[row["winner"]] += 1
        self.inconsistent += len(row["inconsistent"])
        if label is not None:
            self.labelled += 1
            self.agree += int(row["winner"] == label)

    def print(self) -> None:
        agreement = f"; agreement with 'label': {self.agree}/{self.labelled}" if self.labelled else ""
        err.print(f"  winners: A {self.winners['A']}, B {self.winners['B']}, tie {self.winners['tie']}, "
                  f"unscored {self.unscored}; position-inconsistent criteria: {self.inconsistent}{agreement}",
                  highlight=False)


@with_judge_options()
def rank(
    input: Path = typer.Argument(..., help="JSONL rows with prompt and responses (a list); optional reference"),
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
    strategy: str = StrategyOpt,
    anchor_index: int | None = typer.Option(None, "--anchor-index",
        help="anchor: compare with responses[N] (default: the "
        "reference, else 0)",
    ),
    output: str | None = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.ranked.jsonl]"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
    field: list[str] = typer.Option([], "--field", help="remap an input field: NAME=KEY (prompt, responses, id, reference, rubric)"),
    *,
    judge_options: JudgeOptions,
) -> None:
    """One reward in [0, 1] per response of each group (GRPO-style), by the chosen strategy."""
    rows = _read_groups(input, field, anchor_index)
    the_rubric = load_rubric(rubric) if rubric else None
    require_rubrics(rows, the_rubric, str(input), judge_options.config.profile)
    out = output or default_output(input, "ranked")
    with judge_options.judge() as the_judge:

        async def job(row: InputRow) -> dict[str, Any]:
            o = await rank_group_with(
                the_judge, rubric_for(row, the_rubric, optional=the_judge.makes_criteria()), row.fields["prompt"],
                row.fields["responses"], strategy=strategy,
                reference=row.fields.get("reference"), anchor_index=anchor_index if strategy == "anchor" else None,
                row=row.data,
            )
            return rank_result(row.id, o, strategy).model_dump()

        summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err, label="ranking",
                           failed=lambda row, why: RankResult.failed(row.id, len(row.fields["responses"]), why).model_dump())
        print_summary(summary, out)
        exit_if_judge_failed(the_judge, summary)


def _read_groups(input: Path, field: list[str], anchor_index: int | None) -> list[InputRow]:
    """The rows to rank, each with a non-empty list of responses (holding --anchor-index, if given)."""
    rows = read_jsonl(input, required=("prompt", "responses"), mapping=field_map(field))
    for row in rows:
        responses = row.fields["responses"]
        if not isinstance(responses, list) or not responses:
            raise InputError("'responses' must be a non-empty list", file=str(input), line=row.line, field="responses")
        if anchor_index is not None and not 0 <= anchor_index < len(responses):
            raise InputError(f"--anchor-index {anchor_index} is outside this group of {len(responses)} responses",
                             file=str(input), line=row.line, field="responses")
    return rows


def register(app: typer.Typer) -> None:
    app.command()(compare)
    app.command()(rank)
