"""`judgekit compare` (two responses per row, both orders) and `judgekit rank` (a group of responses per row)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import typer

from judgekit.cli.common import both, err, exit_if_judge_failed, exit_if_run_failed, print_summary, rubric_check
from judgekit.cli.dryrun import dry_run
from judgekit.cli.options import (
    SCORING_PANEL,
    FileOptions,
    JudgeOptions,
    RayActorsOpt,
    RayOpt,
    RayShardRowsOpt,
    strategy_option,
    with_file_options,
    with_judge_options,
)
from judgekit.cli.rayfile import run_file_on_ray
from judgekit.cli.record import model_digest, run_record
from judgekit.cli.runfile import OutputRow, run_file
from judgekit.data.rows import FileRows, InputRow, RowCheck, pair_label
from judgekit.data.runrecord import RunRecord
from judgekit.data.transcript import Text, as_text
from judgekit.errors import InputError, RowFailure
from judgekit.jsonvalue import JSONValue
from judgekit.judge import rank_group_with
from judgekit.judging.outcomes import rank_result
from judgekit.judging.results import CompareResult, RankResult
from judgekit.rubric.formats import rubric_for
from judgekit.rubric.meta import load_meta_rubric
from judgekit.rubric.models import Rubric, load_rubric


@with_judge_options()
@with_file_options("compared", "prompt, response_a, response_b, id, reference, label, rubric")
def compare(
    input: Path = typer.Argument(..., help="rows with prompt, response_a, response_b (optional label): JSONL, "
                                           "Parquet, a saved dataset or a hub dataset"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion (both orders)",
                                 rich_help_panel=SCORING_PANEL),
    adaptive: Path | None = typer.Option(None, "--adaptive",
        help="meta-rubric YAML (e.g. rubrics/meta/pairwise.yaml): first write the "
        "criteria that separate each pair", rich_help_panel=SCORING_PANEL,
    ),
    ray: bool = RayOpt,
    ray_actors: int = RayActorsOpt,
    ray_shard_rows: int = RayShardRowsOpt,
    *,
    file_options: FileOptions,
    judge_options: JudgeOptions,
) -> None:
    """Compare two responses per row, criterion by criterion, in both orders: winner, margin, preferences."""
    if ray and adaptive is not None:
        raise InputError("--adaptive does not run on Ray yet; drop --ray or --adaptive", field="--ray")
    the_rubric = load_rubric(file_options.rubric) if file_options.rubric else None
    meta = load_meta_rubric(adaptive) if adaptive is not None else None
    rows = FileRows(input, ("prompt", "response_a", "response_b"), ("reference", "label"), file_options.fields,
                    file_options.split, both(_label_check(str(input)),
                                             rubric_check(the_rubric, str(input), judge_options.config.profile, meta)),
                    limit=file_options.limit)
    count = rows.validate()
    if file_options.dry_run:
        dry_run("compare", rows, the_rubric, judge_options)
        return
    out = file_options.output_for(input)
    if ray:
        _compare_on_ray(list(rows), the_rubric, explain, judge_options, input, out, file_options.resume,
                        ray_actors, ray_shard_rows, run_record("compare", rows, judge_options, the_rubric,
                                                               explain=explain, adaptive=None))
        return
    with judge_options.judge(check=False) as the_judge:  # run_file checks
        tally = _Tally()

        async def job(row: InputRow) -> OutputRow:
            obj = (await the_judge.acompare_row(row, the_rubric, explain, adaptive=meta)).model_dump()
            tally.count(obj, _label(row))
            return obj

        def failed(row: InputRow, why: RowFailure) -> OutputRow:
            tally.unscored += 1
            return CompareResult.failed(row.id, why).model_dump()

        summary = run_file(the_judge, rows, count, job, output=out, resume=file_options.resume, console=err,
                           label="comparing", failed=failed,
                           record=run_record("compare", rows, judge_options, the_rubric, explain=explain,
                                             adaptive=model_digest(meta)))
        print_summary(summary, out)
        tally.print()
        exit_if_judge_failed(the_judge, summary)


def _compare_on_ray(rows: list[InputRow], rubric: Rubric | None, explain: bool, options: JudgeOptions, source: Path,
                    out: str, resume: bool, actors: int, shard_rows: int, record: RunRecord) -> None:
    labels = {str(row.id): _label(row) for row in rows}
    tally = _Tally()
    summary = run_file_on_ray(rows, rubric, explain, options, source=source, output=out, resume=resume, actors=actors,
                              shard_rows=shard_rows, kind="compare",
                              record=record,
                              on_row=lambda obj: tally.count(obj, labels.get(str(obj["id"]))))
    print_summary(summary, out)
    tally.print()
    exit_if_run_failed(summary.stats, summary)


def _label_check(file: str) -> RowCheck:
    """Each row's `label` read as A, B or tie."""

    def check(row: InputRow) -> None:
        label = row.fields.get("label")
        if label is not None:
            row.fields["label"] = pair_label(label)
            if row.fields["label"] is None:
                raise InputError(f"label must be A, B or tie (or LLMBar's 1|2, JudgeBench's A>B|B>A|A=B), got {label!r}",
                                 file=file, line=row.line, field="label")

    return check


class _Tally:
    """Winners, position-inconsistent criteria and agreement with the rows' labels, for the summary."""

    def __init__(self) -> None:
        self.winners = {"A": 0, "B": 0, "tie": 0}
        self.unscored = self.inconsistent = self.labelled = self.agree = 0

    def count(self, row: Mapping[str, JSONValue], label: str | None) -> None:
        winner, inconsistent = row["winner"], row["inconsistent"]
        if isinstance(winner, str):
            self.winners[winner] += 1
        else:
            self.unscored += 1
        self.inconsistent += len(inconsistent) if isinstance(inconsistent, list) else 0
        if label is not None:
            self.labelled += 1
            self.agree += int(winner == label)

    def print(self) -> None:
        agreement = f"; agreement with 'label': {self.agree}/{self.labelled}" if self.labelled else ""
        err.print(f"  winners: A {self.winners['A']}, B {self.winners['B']}, tie {self.winners['tie']}, "
                  f"unscored {self.unscored}; position-inconsistent criteria: {self.inconsistent}{agreement}",
                  highlight=False)


@with_judge_options()
@with_file_options("ranked", "prompt, responses, id, reference, rubric")
def rank(
    input: Path = typer.Argument(..., help="rows with prompt and responses (a list), optional reference: JSONL, "
                                           "Parquet, a saved dataset or a hub dataset"),
    strategy: str = strategy_option(),
    anchor_index: int | None = typer.Option(None, "--anchor-index",
        help="anchor: compare with responses[N] (default: the "
        "reference, else 0)", rich_help_panel=SCORING_PANEL,
    ),
    adaptive: Path | None = typer.Option(None, "--adaptive",
        help="meta-rubric YAML (e.g. rubrics/meta/pairwise.yaml): with --strategy anchor or round_robin, first "
        "write the criteria that separate each compared pair", rich_help_panel=SCORING_PANEL,
    ),
    *,
    file_options: FileOptions,
    judge_options: JudgeOptions,
) -> None:
    """One reward in [0, 1] per response of each group (GRPO-style), by the chosen strategy."""
    if adaptive is not None and strategy == "pointwise":
        raise InputError("--adaptive writes criteria for each compared pair: it needs --strategy anchor or round_robin, "
                         "not pointwise", field="--adaptive")
    the_rubric = load_rubric(file_options.rubric) if file_options.rubric else None
    meta = load_meta_rubric(adaptive) if adaptive is not None else None
    rows = FileRows(input, ("prompt", "responses"), mapping=file_options.fields, split=file_options.split,
                    check=both(_group_check(str(input), anchor_index),
                               rubric_check(the_rubric, str(input), judge_options.config.profile, meta)), limit=file_options.limit)
    count = rows.validate()
    if file_options.dry_run:
        dry_run("rank", rows, the_rubric, judge_options, strategy)
        return
    out = file_options.output_for(input)
    with judge_options.judge(check=False) as the_judge:  # run_file checks

        async def job(row: InputRow) -> OutputRow:
            o = await rank_group_with(
                the_judge, rubric_for(row.rubric, the_rubric, optional=the_judge.makes_criteria(meta), line=row.line),
                row.text("prompt"), _responses(row), strategy=strategy,
                reference=row.reference(), anchor_index=anchor_index if strategy == "anchor" else None,
                row=row.data, adaptive=meta,
            )
            return rank_result(row.id, o, strategy).model_dump()

        summary = run_file(the_judge, rows, count, job, output=out, resume=file_options.resume, console=err,
                           label="ranking", record=run_record("rank", rows, judge_options, the_rubric, strategy=strategy,
                                                              anchor_index=anchor_index if strategy == "anchor" else None,
                                                              adaptive=model_digest(meta)),
                           failed=lambda row, why: RankResult.failed(row.id, len(_responses(row)), why).model_dump())
        print_summary(summary, out)
        exit_if_judge_failed(the_judge, summary)


def _label(row: InputRow) -> str | None:
    """A row's label as `_label_check` left it: A, B, tie, or None."""
    label = row.fields.get("label")
    return label if isinstance(label, str) else None


def _responses(row: InputRow) -> list[Text]:
    """A group's responses as they are judged (`_group_check` made them a list)."""
    given = row.fields["responses"]
    return [as_text(r) for r in given] if isinstance(given, list) else []


def _group_check(file: str, anchor_index: int | None) -> RowCheck:
    """Each row has a non-empty list of responses (holding --anchor-index, if given)."""

    def check(row: InputRow) -> None:
        responses = row.fields["responses"]
        if not isinstance(responses, list) or not responses:
            raise InputError("'responses' must be a non-empty list", file=file, line=row.line, field="responses")
        if anchor_index is not None and not 0 <= anchor_index < len(responses):
            raise InputError(f"--anchor-index {anchor_index} is outside this group of {len(responses)} responses",
                             file=file, line=row.line, field="responses")

    return check


def register(app: typer.Typer) -> None:
    app.command()(compare)
    app.command()(rank)
