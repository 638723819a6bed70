"""`judgekit rubric ...`: check and show rubric files, generate them and refine them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from judgekit.authoring.generate import GenerateOutcome, generate_rubrics
from judgekit.cli.common import err, judge_failed_entirely, print_calls
from judgekit.cli.options import IO_PANEL, JudgeOptions, LimitOpt, number_option, with_judge_options
from judgekit.data.outfile import dumps
from judgekit.data.rows import DataRow, read_data
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue
from judgekit.judge import Judge
from judgekit.rubric.models import Criterion, Rubric, load_rubric

if TYPE_CHECKING:  # refine needs numpy and networkx: loaded only when `rubric refine` runs
    from judgekit.authoring.refine import RefineResult, RefineSettings


def rubric_validate(file: Path = typer.Argument(..., help="rubric YAML")) -> None:
    """Check a rubric file; exit 2 with the place of the first problem."""
    r = load_rubric(file)
    kinds = {k: sum(1 for c in r.criteria if c.kind == k) for k in ("principle", "hard_rule", "check")}
    err.print(f"ok: {escape(str(file))}: rubric '{escape(r.name)}', {len(r.criteria)} criteria "
              f"({kinds['principle']} principle, {kinds['hard_rule']} hard_rule, {kinds['check']} check)"
              + (", implicit aggregation" if r.aggregation == "implicit" else ""), highlight=False)


def _kind_cell(c: Criterion) -> str:
    """The kind, with how the criterion is answered when that is not MET/UNMET."""
    parts: list[str] = [c.kind]
    if c.scale is not None:
        parts.append(f"rated {c.scale.min}-{c.scale.max}")
    if c.not_applicable:
        parts.append("may not apply")
    if c.gate and c.kind == "check":
        parts.append("gate")
    return ", ".join(parts)


def rubric_show(file: Path = typer.Argument(..., help="rubric YAML")) -> None:
    """Print a rubric as a table (its texts as they are: Text objects, never console markup)."""
    r = load_rubric(file)
    title = Text(f"{r.name} (v{r.version})" + (f": {r.description}" if r.description else ""))
    table = Table(title=title, show_lines=False)
    for col in ("id", "kind", "weight", "tags", "criterion"):
        table.add_column(col, overflow="fold")
    for c in r.criteria:
        table.add_row(*(Text(cell) for cell in (c.cid, _kind_cell(c), f"{c.weight:g}", ", ".join(c.tags), c.display_text)))
    Console().print(table)


def write_rubric_yaml(rubric: Rubric, path: str | Path, header: str = "") -> None:
    """Write a rubric file and read it back through the validator (a written file always loads)."""
    text = yaml.safe_dump(rubric.to_yaml_dict(), sort_keys=False, allow_unicode=True, width=100)
    Path(path).write_text((header + "\n" if header else "") + text, encoding="utf-8")
    load_rubric(path)


def _check_output(path: str, suffixes: tuple[str, ...], flag: str = "--output") -> None:
    if not path.endswith(suffixes):
        raise InputError(f"the output must end with {' or '.join(suffixes)}, got {path!r}", field=flag)


def _data_file(data: Path | None, data_option: Path | None) -> Path:
    """The input, positional as every command's; `--data` is its earlier spelling, kept for existing scripts."""
    if data is not None and data_option is not None and data != data_option:
        raise InputError("give the data file once: as the argument (--data is its older spelling)", field="--data")
    given = data or data_option
    if given is None:
        raise InputError("missing the data file: judgekit rubric ... DATA.jsonl", field="DATA")
    return given


# --data DATA: the older spelling of the positional DATA, hidden from --help.
DataOpt: Path | None = typer.Option(None, "--data", "-d", hidden=True)


@with_judge_options(without=frozenset({"allow_code", "min_coverage"}))  # generated criteria are principles; no reward
def rubric_generate(
    data: Path | None = typer.Argument(None, help="JSONL (or JSON array) rows with a prompt; with --pairs also chosen/rejected",
                                       show_default=False),
    data_option: Path | None = DataOpt,
    output: str = typer.Option(..., "--output", "-o", help="rubric YAML; with --per-prompt a JSONL of the rows with a 'rubric' field",
                               rich_help_panel=IO_PANEL),
    per_prompt: bool = typer.Option(False, "--per-prompt", help="one rubric per row (written into each row)"),
    pairs: bool = typer.Option(False, "--pairs", help="contrastive: keep criteria that reproduce each pair's preference"),
    name: str = typer.Option("generated", "--name", help="rubric name"),
    limit: int | None = LimitOpt,
    max_criteria: int = typer.Option(8, "--max-criteria", min=1, max=50),
    max_tries: int = typer.Option(3, "--max-tries", min=1, max=20, help="rubric sets proposed per pair at most (rejection sampling)"),
    target: int = typer.Option(4, "--target", min=1, hidden=True),  # earlier per-criterion sampling; kept for scripts, no effect
    verify: str = typer.Option("pointwise", "--verify", help="pointwise (each response alone) | pairwise (both orders)"),
    sample: int = typer.Option(8, "--sample", min=1, help="prompts shown when writing one rubric for the dataset"),
    *,
    judge_options: JudgeOptions,
) -> None:
    """Write rubrics from prompts (and references), or contrastively from chosen/rejected pairs."""

    if verify not in ("pointwise", "pairwise"):
        raise InputError("--verify takes pointwise or pairwise", field="--verify")
    _check_output(output, (".jsonl",) if per_prompt else (".yaml", ".yml"))
    data = _data_file(data, data_option)
    rows = read_data(data, limit=limit, need_pairs=pairs)
    with judge_options.judge() as the_judge:
        outcome = the_judge.run(generate_rubrics(
            the_judge.context(), rows, name=name, per_prompt=per_prompt, pairs=pairs, source=str(data),
            max_criteria=max_criteria, max_tries=max_tries, sample=sample, verify=verify,
        ))
        if per_prompt:
            _write_per_prompt(outcome, output, len(rows))
        else:
            _write_dataset_rubric(outcome, output, data, the_judge)
        if pairs:
            _print_contrastive(outcome)
        print_calls(the_judge)
        if judge_failed_entirely(the_judge):
            raise typer.Exit(1)


def _write_per_prompt(outcome: GenerateOutcome, output: str, n_rows: int) -> None:
    """The input rows, each with its rubric (or null and the reason), as JSONL."""
    written = 0
    with open(output, "w", encoding="utf-8") as fh:
        for row, rubric, failure in outcome.rubrics:
            assert row is not None
            out = dict(row.data)
            out["rubric"] = rubric.to_yaml_dict() if rubric else None
            if failure:
                out["rubric_failure"] = failure
            written += rubric is not None
            fh.write(dumps(out) + "\n")
    err.print(f"[bold]done[/bold]: {written}/{n_rows} rows got a rubric -> {escape(output)}", highlight=False)
    for row, _, failure in outcome.rubrics:
        if failure:
            err.print(f"  row {escape(str(row.id)) if row else '?'}: no rubric: {escape(failure)}", highlight=False)


def _write_dataset_rubric(outcome: GenerateOutcome, output: str, data: Path, judge: Judge) -> None:
    """The one rubric of the dataset as YAML; exit 1 (saying why) when none was generated."""
    _, rubric, failure = outcome.rubrics[0]
    if rubric is None:
        print_calls(judge)
        err.print(f"[red]error[/red]: no rubric was generated: {escape(str(failure))}", highlight=False)
        raise typer.Exit(1)
    write_rubric_yaml(rubric, output, f"# generated by judgekit rubric generate from {data}")
    err.print(f"[bold]done[/bold]: rubric '{escape(rubric.name)}' with {len(rubric.criteria)} criteria -> {escape(output)}",
              highlight=False)


def _print_contrastive(outcome: GenerateOutcome) -> None:
    tried = sum(len(e["tried"]) for e in outcome.log)
    kept = sum(1 for e in outcome.log for t in e["tried"] if t["kept"])
    err.print(f"  contrastive: {kept} of {len(outcome.log)} pairs got a rubric set that reproduces the preference "
              f"({tried} sets proposed)", highlight=False)


@with_judge_options(without=frozenset({"min_coverage"}))  # refine reads the verdicts, not a reward
def rubric_refine(
    data: Path | None = typer.Argument(None,
        help="JSONL/JSON rows: prompt + responses, and/or chosen/rejected (LLMBar's "
        "input/output_1/output_2/label)", show_default=False,
    ),
    data_option: Path | None = DataOpt,
    rubric: Path | None = typer.Option(None, "--rubric", "-r", rich_help_panel=IO_PANEL,
                                       help="rubric YAML to refine [default: each row's own 'rubric', refined per prompt]"),
    output: str = typer.Option(..., "--output", "-o", rich_help_panel=IO_PANEL,
                               help="refined rubric YAML; per prompt, a JSONL of the rows with their refined rubric"),
    decompose: bool = typer.Option(True, "--decompose/--no-decompose", help="split too-easy criteria into finer ones"),
    report: str | None = typer.Option(None, "--report", help="HTML report (a JSON twin is written beside it)",
                                      rich_help_panel=IO_PANEL),
    report_json: str | None = typer.Option(None, "--report-json", help="the report's numbers as JSON [default: REPORT.json]",
                                           rich_help_panel=IO_PANEL),
    limit: int | None = LimitOpt,
    easy_threshold: float = number_option(0.8, "--easy-threshold", min=0.0, max=1.0, help="decompose criteria met by at least this share"),
    max_depth: int = typer.Option(2, "--max-depth", min=0, max=10),
    max_criteria: int = typer.Option(16, "--max-criteria", min=1, max=200),
    max_rejections: int = typer.Option(3, "--max-rejections", min=1, max=100),
    redundancy: float = number_option(0.95, "--redundancy", min=0.0, max=1.0, help="verdict agreement that makes two criteria redundant"),
    text_similarity: float = number_option(0.9, "--text-similarity", min=0.0, max=1.0),
    min_support: int = typer.Option(4, "--min-support", min=1, help="responses needed before agreement counts"),
    no_misaligned_filter: bool = typer.Option(False, "--keep-misaligned", help="do not drop criteria that prefer rejected responses"),
    no_redundant_filter: bool = typer.Option(False, "--keep-redundant", help="do not drop redundant criteria"),
    drop_uninformative: bool = typer.Option(False, "--drop-uninformative",
        help="drop principles met by every response or by none (hard rules "
        "and checks are always kept)",
    ),
    weighting: str = typer.Option("correlation", "--weights", help="correlation | uniform | keep"),
    lam: float = number_option(0.1, "--shrinkage", min=0.0, max=1.0, help="lambda: shrink the correlation matrix to its diagonal"),
    power: float = number_option(0.5, "--power", min=0.0, max=2.0, help="w = Sigma^(-power)·1 (0.5: whitening)"),
    holdout: float = number_option(0.3, "--holdout", min=0.0, max=0.9, help="share of labelled pairs held out to measure on"),
    seed: int = typer.Option(0, "--seed", help="seed of the held-out split and the bootstraps"),
    min_decisive: int = typer.Option(8, "--min-decisive", min=1, help="decisive labelled pairs a misalignment drop needs"),
    alpha: float = number_option(0.05, "--alpha", min=0.0001, max=0.5, help="level of every evidence test"),
    prompts_at_once: int = typer.Option(4, "--prompts-at-once", min=1, max=256, help="per-prompt rubrics refined at once"),
    *,
    judge_options: JudgeOptions,
) -> None:
    """RRD: decompose too-easy criteria, drop misaligned and redundant ones, reweigh by correlation."""
    from judgekit.authoring.refine import RefineSettings, refine_rubric
    from judgekit.authoring.report import write_report

    if weighting not in ("correlation", "uniform", "keep"):
        raise InputError("--weights takes correlation, uniform or keep", field="--weights")
    _check_output(output, (".yaml", ".yml") if rubric else (".jsonl",))
    data = _data_file(data, data_option)
    the_rubric = load_rubric(rubric) if rubric else None
    rows = read_data(data, limit=limit, need_responses=True)
    settings = RefineSettings(
        decompose=decompose, easy_threshold=easy_threshold, max_depth=max_depth, max_criteria=max_criteria,
        max_rejections=max_rejections, filter_misaligned=not no_misaligned_filter,
        filter_redundant=not no_redundant_filter, redundancy_threshold=redundancy, text_similarity=text_similarity,
        min_support=min_support, weighting=weighting, lam=lam, power=power,  # type: ignore[arg-type]
        drop_uninformative=drop_uninformative, holdout=holdout, seed=seed, min_decisive=min_decisive, alpha=alpha,
        prompts_at_once=prompts_at_once,
    )
    if the_rubric is None:
        _refine_per_prompt(rows, settings, data, output, report_json, judge_options)
        return
    with judge_options.judge() as the_judge:
        result = the_judge.run(refine_rubric(
            the_judge.context(), the_rubric, rows, settings,
            say=lambda msg: err.print(f"  {escape(msg)}", highlight=False),
            provenance={"refined_by": "judgekit rubric refine", "judge": judge_options.spec.name, "data": str(data),
                        "rows": len(rows)},
        ))
        write_rubric_yaml(result.rubric, output, f"# refined by judgekit rubric refine from {rubric} on {data}")
        json_path = report_json or (str(Path(report).with_suffix(".json")) if report else None)
        if json_path:
            s = the_judge.stats.as_dict()
            write_report(result, report, json_path, extra={"judge_calls": s["calls"], "cache_hits": s["cache_hits"]})
        _print_refined(the_rubric, result, output, report, json_path)
        print_calls(the_judge)
        if judge_failed_entirely(the_judge):
            err.print("[red]error[/red]: every judge call failed")
            raise typer.Exit(1)


def _refine_per_prompt(rows: list[DataRow], settings: RefineSettings, data: Path, output: str, report_json: str | None,
                       judge_options: JudgeOptions) -> None:
    """Each row's own rubric refined on its own responses; one JSONL row out per row in."""
    from judgekit.authoring.per_prompt import refine_per_prompt

    with judge_options.judge() as the_judge:
        outcome = the_judge.run(refine_per_prompt(the_judge.context(), rows, settings, file=str(data),
                                                  say=lambda msg: err.print(f"  {escape(msg)}", highlight=False)))
        with open(output, "w", encoding="utf-8") as fh:
            for item in outcome.rows:
                fh.write(dumps(item.record()) + "\n")
        if report_json:
            Path(report_json).write_text(dumps({"heldout": outcome.heldout, "rows": len(rows),
                                                "row_errors": {str(i.row.id): i.error for i in outcome.rows if i.error}}) + "\n",
                                         encoding="utf-8")
        refined = sum(1 for i in outcome.rows if i.result is not None)
        err.print(f"[bold]done[/bold]: {refined}/{len(rows)} rows' rubrics refined -> {escape(output)}", highlight=False)
        for item in outcome.rows:
            if item.error:
                err.print(f"  row {escape(str(item.row.id))}: not refined: {escape(item.error)}", highlight=False)
        err.print(f"  {escape(heldout_line(outcome.heldout))}", highlight=False)
        print_calls(the_judge)
        if judge_failed_entirely(the_judge):
            err.print("[red]error[/red]: every judge call failed")
            raise typer.Exit(1)


def heldout_line(held: Mapping[str, JSONValue]) -> str:
    """One line of the held-out accuracies with their CIs, or why there are none."""
    if "skipped" in held:
        return f"held-out: {held['skipped']}"
    parts = [f"{name.replace('_', ' ')} {v['accuracy']} [{v['ci'][0]}, {v['ci'][1]}]" for name, v in held.items()
             if isinstance(v, dict) and v.get("ci")]
    return f"held-out accuracy on {held['pairs']} pairs (95% CI): " + "; ".join(parts)


def _print_refined(before: Rubric, result: RefineResult, output: str, report: str | None, json_path: str | None) -> None:
    weights_before = ", ".join(f"{c.cid}={c.weight:g}" for c in before.criteria)
    weights_after = ", ".join(f"{c.cid}={c.weight:g}" for c in result.rubric.criteria)
    accuracy = result.pair_accuracy
    err.print(f"[bold]done[/bold]: {len(before.criteria)} -> {len(result.rubric.criteria)} criteria -> {escape(output)}\n"
              f"  before: {weights_before}\n  after:  {weights_after}\n"
              f"  pair accuracy on the fitted pairs before/after(uniform)/after: {accuracy['before']} / "
              f"{accuracy['after_uniform_weights']} / {accuracy['after']}\n  {escape(heldout_line(result.heldout))}"
              + (f"\n  not enough evidence / flagged: {len(result.evidence)} criteria kept as they were (see the report)"
                 if result.evidence else "")
              + (f"\n  uninformative on this data (kept): {', '.join(result.uninformative)}"
                 if result.uninformative else "")
              + (f"\n  report: {escape(report or '')} {escape(json_path or '')}" if json_path else ""), highlight=False)


def register(rubric_app: typer.Typer) -> None:
    rubric_app.command("validate")(rubric_validate)
    rubric_app.command("show")(rubric_show)
    rubric_app.command("generate")(rubric_generate)
    rubric_app.command("refine")(rubric_refine)
