"""The `judgekit` command line (typer). Exit codes: 0 done, 1 the run failed, 2 bad input or usage;
130 / 143 interrupted by Ctrl-C / SIGTERM, 141 stdout closed (judgekit.cli.runfile)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from judgekit.errors import InputError, JudgeCrashed
from judgekit.judge import Judge, makes_criteria
from judgekit.data.rows import InputRow, read_jsonl
from judgekit.rubric.models import Rubric, load_rubric
from judgekit.judging.results import ScoreResult
from judgekit.cli.runfile import RunStopped, RunSummary, run_file
from judgekit.secrets import redact

def _usage_error_types() -> tuple[type[BaseException], ...]:
    # typer >= 0.16 vendors click and raises typer.TyperException subclasses; older typer uses click.
    if hasattr(typer, "TyperException"):
        return (typer.TyperException,)
    import click

    return (click.exceptions.ClickException,)


app = typer.Typer(
    help="judgekit: turn rubrics into rewards.", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
)
rubric_app = typer.Typer(help="Check and show rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")

err = Console(stderr=True, soft_wrap=True)


def _field_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep or not name or not key:
            raise InputError(f"--field takes NAME=KEY (e.g. prompt=question), got {pair!r}", field="--field")
        mapping[name.strip()] = key.strip()
    return mapping


def _per_call(value: str) -> str | int:
    if value in ("one", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise InputError("--criteria-per-call takes one, all or a positive number", field="--criteria-per-call")


def _min_coverage(value: float) -> float:
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise InputError(f"--min-coverage takes a number from 0 to 1, got {value}", field="--min-coverage")
    return value


def _default_output(input_path: Path, suffix: str) -> str:
    name = input_path.name[: -len(".jsonl")] if input_path.name.endswith(".jsonl") else input_path.stem
    return str(input_path.with_name(f"{name}.{suffix}.jsonl"))


def _require_rubrics(rows: list[InputRow], rubric: Rubric | None, file: str) -> None:
    if rubric is not None:
        return
    for row in rows:
        if row.rubric is None:
            raise InputError("the row has no rubric and no --rubric was given", file=file, line=row.line, field="rubric")


def _print_summary(summary: RunSummary, output: str) -> None:
    s = summary.stats
    failed = f"; rows that could not be judged: {summary.failed_rows} (see unscored['*'])" if summary.failed_rows else ""
    err.print(
        f"[bold]done[/bold]: {summary.rows} rows ({summary.judged} judged, {summary.resumed} resumed) "
        f"in {summary.seconds:.1f}s -> {escape(output)}\n"
        f"  unscored criteria: {summary.unscored_criteria}; rows without a reward: {summary.rows_without_reward}"
        f"{failed}\n"
        f"  judge calls: {s['calls']} (retries {s['retries']}, re-asks {s['reasks']}, failed {s['failed_calls']}); "
        f"cache hits: {s['cache_hits']}\n"
        f"  tokens: {s['prompt_tokens']} prompt + {s['completion_tokens']} completion",
        highlight=False,
    )


def _judge_failed_entirely(judge: Judge) -> bool:
    st = judge.stats
    return st.failed_calls > 0 and st.succeeded_calls == 0 and st.cache_hits == 0


def _exit_if_judge_failed(judge: Judge, summary: RunSummary | None = None) -> None:
    """Exit 1 when no judge call succeeded at all, or no row could be judged (the rows are written, with the reasons)."""
    if _judge_failed_entirely(judge):
        err.print("[red]error[/red]: every judge call failed; see 'unscored' in the output for the reasons")
        raise typer.Exit(1)
    if summary is not None and summary.judged and summary.failed_rows == summary.judged:
        err.print("[red]error[/red]: no row could be judged; see unscored['*'] in the output for the reasons")
        raise typer.Exit(1)


def _make_judge(
    judge: str, base_url: str | None, concurrency: int, no_cache: bool, cache_dir: str | None, *,
    criteria_per_call: str = "one", timeout: float = 60.0, max_attempts: int = 4, max_reasks: int = 2,
    temperature: float | None = None, max_tokens: int | None = None, allow_code: bool = False,
    mask_names: bool = False, profile: str = "judgekit", two_phase: bool = False, think_tokens: int = 2048,
    generator: str | None = None, generator_base_url: str | None = None, min_coverage: float = 1.0,
) -> Judge:
    """The Judge every command builds from its command-line options."""
    return Judge(
        judge, base_url=base_url, concurrency=concurrency, cache=not no_cache, cache_dir=cache_dir,
        criteria_per_call=_per_call(criteria_per_call), timeout=timeout, max_attempts=max_attempts,
        max_reasks=max_reasks, temperature=temperature, max_tokens=max_tokens, allow_code=allow_code,
        mask_names=mask_names, profile=profile, two_phase=two_phase, think_tokens=think_tokens,
        generator=generator, generator_base_url=generator_base_url, min_coverage=_min_coverage(min_coverage),
    )


JudgeOpt = typer.Option("local", "--judge", "-j", help="local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | vllm:MODEL")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vllm serve)")
MaskNamesOpt = typer.Option(False, "--mask-names", help="replace model/lab names in responses with [model] before judging")
ProfileOpt = typer.Option("judgekit", "--profile", "-p", help="judge profile: judgekit | rm-r1 | prometheus2 | rubric-rm | yes-no | PATH.yaml")
TwoPhaseOpt = typer.Option(False, "--two-phase", help="reasoning judges: think freely first, then give the constrained final answer")
ThinkTokensOpt = typer.Option(2048, "--think-tokens", min=16, help="token budget of the thinking phase (--two-phase)")
GeneratorOpt = typer.Option(None, "--generator", help="model that writes criteria (rubric-rm rubrics, --adaptive); default: the judge")
GeneratorUrlOpt = typer.Option(None, "--generator-base-url", help="OpenAI-compatible server of --generator (default: --base-url)")
TemperatureOpt = typer.Option(None, "--temperature", help="default: the profile's, else 0")
MaxTokensOpt = typer.Option(None, "--max-tokens", help="default: the profile's, else 1024")
MinCoverageOpt = typer.Option(1.0, "--min-coverage", help="least scored share (0..1) of the rubric's absolute weight for a reward; below it, or with a hard rule unscored, the reward is null")


def _makes_criteria(profile: str, adaptive: object = None) -> bool:
    """Whether rows need no rubric, known before the judge (and its model) is built."""
    from judgekit.protocol.profiles import load_profile

    return makes_criteria(load_profile(profile), adaptive)


@app.command()
def score(
    input: Path = typer.Argument(..., help="JSONL rows with prompt and response"),
    rubric: Optional[Path] = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
    judge: str = JudgeOpt,
    base_url: Optional[str] = BaseUrlOpt,
    output: Optional[str] = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.scored.jsonl]"),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="judge calls in flight"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
    no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the verdict cache"),
    explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion"),
    soft: Optional[bool] = typer.Option(None, "--soft/--no-soft", help="ask for token log-probabilities; add 'soft' P(MET) and 'soft_reward' [default: the profile's]"),
    criteria_per_call: str = typer.Option("one", "--criteria-per-call", help="one | all | N"),
    timeout: float = typer.Option(60.0, "--timeout", help="seconds per judge call"),
    max_attempts: int = typer.Option(4, "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
    max_reasks: int = typer.Option(2, "--max-reasks", help="re-asks when an answer does not validate"),
    temperature: Optional[float] = TemperatureOpt,
    max_tokens: Optional[int] = MaxTokensOpt,
    allow_code: bool = typer.Option(False, "--allow-code", help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
    field: list[str] = typer.Option([], "--field", help="remap an input field: NAME=KEY (prompt, response, id, reference, rubric)"),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
    mask_names: bool = MaskNamesOpt,
    profile: str = ProfileOpt,
    two_phase: bool = TwoPhaseOpt,
    think_tokens: int = ThinkTokensOpt,
    generator: Optional[str] = GeneratorOpt,
    generator_base_url: Optional[str] = GeneratorUrlOpt,
    min_coverage: float = MinCoverageOpt,
) -> None:
    """Score each response against the rubric: one output row per input row."""
    rows = read_jsonl(input, required=("prompt", "response"), mapping=_field_map(field))
    the_rubric = load_rubric(rubric) if rubric else None
    if not _makes_criteria(profile):
        _require_rubrics(rows, the_rubric, str(input))
    out = output or _default_output(input, "scored")
    with _make_judge(
        judge, base_url, concurrency, no_cache, cache_dir, criteria_per_call=criteria_per_call, timeout=timeout,
        max_attempts=max_attempts, max_reasks=max_reasks, temperature=temperature, max_tokens=max_tokens,
        allow_code=allow_code, mask_names=mask_names, profile=profile, two_phase=two_phase,
        think_tokens=think_tokens, generator=generator, generator_base_url=generator_base_url,
        min_coverage=min_coverage,
    ) as the_judge:

        async def job(row: InputRow) -> dict[str, Any]:
            return (await the_judge.ascore_row(row, the_rubric, explain, soft)).model_dump()

        summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err, label="scoring",
                           failed=lambda row, why: ScoreResult.failed(row.id, why).model_dump())
        _print_summary(summary, out)
        _exit_if_judge_failed(the_judge, summary)


@rubric_app.command("validate")
def rubric_validate(file: Path = typer.Argument(..., help="rubric YAML")) -> None:
    """Check a rubric file; exit 2 with the place of the first problem."""
    r = load_rubric(file)
    kinds = {k: sum(1 for c in r.criteria if c.kind == k) for k in ("principle", "hard_rule", "check")}
    err.print(f"ok: {escape(str(file))}: rubric '{escape(r.name)}', {len(r.criteria)} criteria "
              f"({kinds['principle']} principle, {kinds['hard_rule']} hard_rule, {kinds['check']} check)", highlight=False)


@rubric_app.command("show")
def rubric_show(file: Path = typer.Argument(..., help="rubric YAML")) -> None:
    """Print a rubric as a table (its texts as they are: Text objects, never console markup)."""
    r = load_rubric(file)
    title = Text(f"{r.name} (v{r.version})" + (f": {r.description}" if r.description else ""))
    table = Table(title=title, show_lines=False)
    for col in ("id", "kind", "weight", "tags", "criterion"):
        table.add_column(col, overflow="fold")
    for c in r.criteria:
        table.add_row(*(Text(cell) for cell in (c.cid, c.kind, f"{c.weight:g}", ", ".join(c.tags), c.display_text)))
    Console().print(table)


def _register_commands() -> None:
    # Each part of judgekit keeps its commands in its own module.
    from judgekit.cli import pairwise, rewards, rubrics

    for module in (pairwise, rewards, rubrics):
        module.register(app, rubric_app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns every known failure into a message and an exit code, never a traceback."""
    try:
        code = app(args=argv, prog_name="judgekit", standalone_mode=False)
    except InputError as exc:
        err.print(f"[red]error[/red]: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except _usage_error_types() as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {escape(str(exc))}")
        sys.exit(int(getattr(exc, "exit_code", 2) or 2))
    except JudgeCrashed as exc:
        err.print(f"[red]error[/red]: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(1)
    except RunStopped as exc:  # Ctrl-C, SIGTERM, a closed stdout: the finished rows are kept
        if exc.message:
            err.print(exc.message, markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a message, exit 1
        if os.environ.get("JUDGEKIT_DEBUG"):
            raise
        err.print(f"[red]error[/red]: the run failed: {type(exc).__name__}: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
