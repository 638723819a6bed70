"""What the commands share besides the judge options: the stderr console, input checks, the run
summary and the exit code of a run whose judge never answered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from judgekit.cli.runfile import RunSummary
from judgekit.data.rows import InputRow, RowCheck
from judgekit.errors import InputError
from judgekit.judge import Judge, makes_criteria
from judgekit.protocol.profiles import load_profile
from judgekit.rubric.models import Rubric
from judgekit.secrets import redact, redact_tree

if TYPE_CHECKING:
    from judgekit.judging.cascade import CascadeReport
    from judgekit.llm.base import ServerUsage
    from judgekit.rubric.meta import MetaRubric

err = Console(stderr=True, soft_wrap=True)


ShotsOpt = typer.Option(None, "--shots", min=1, help="K worked examples per criterion drawn (seeded) from --shots-from",
                        rich_help_panel="Scoring")
ShotsFromOpt = typer.Option(None, "--shots-from", help="labelled rows {prompt, response, labels: {criterion_id: 0|1}} "
                            "to draw --shots from", rich_help_panel="Scoring")


def rubric_with_shots(rubric: Rubric | None, shots: int | None, source: Path | None, seed: int | None) -> Rubric | None:
    """The rubric with --shots examples per criterion drawn from --shots-from (both or neither)."""
    if shots is None and source is None:
        return rubric
    if shots is None or source is None:
        raise InputError("--shots and --shots-from go together", field="--shots" if shots is None else "--shots-from")
    if rubric is None:
        raise InputError("--shots adds examples to the --rubric file's criteria; give --rubric", field="--shots")
    from judgekit.data.shots import with_shots

    return with_shots(rubric, source, shots, seed=seed or 0)


def rubric_check(rubric: Rubric | None, file: str, profile: str, adaptive: MetaRubric | None = None) -> RowCheck | None:
    """The check that a row has a rubric (its own or --rubric), unless the judge writes the criteria;
    known before the judge (and its model) is built."""
    if makes_criteria(load_profile(profile), adaptive) or rubric is not None:
        return None

    def check(row: InputRow) -> None:
        if row.rubric is None:
            raise InputError("the row has no rubric and no --rubric was given", file=file, line=row.line, field="rubric")

    return check


def both(first: RowCheck | None, second: RowCheck | None) -> RowCheck | None:
    """One row check doing `first` then `second` (either may be None)."""
    if first is None or second is None:
        return first or second

    def check(row: InputRow) -> None:
        first(row)
        second(row)

    return check


def print_summary(summary: RunSummary, output: str) -> None:
    s = summary.stats
    failed = f"; rows that could not be judged: {summary.failed_rows} (see unscored['*'])" if summary.failed_rows else ""
    ended = "stopped" if summary.stopped else "done"
    err.print(
        f"[bold]{ended}[/bold]: {summary.rows} rows ({summary.judged} judged, {summary.resumed} resumed) "
        f"in {summary.seconds:.1f}s -> {escape(output)}\n"
        f"  unscored criteria: {summary.unscored_criteria}; rows without a reward: {summary.rows_without_reward}"
        f"{failed}\n"
        f"  judge calls: {s['calls']} (retries {s['retries']}, re-asks {s['reasks']}, failed {s['failed_calls']}); "
        f"cache hits: {s['cache_hits']}\n"
        f"  tokens: {s['prompt_tokens']} prompt + {s['completion_tokens']} completion\n"
        f"  {cost_line(summary.cost_usd, summary.cost_note, summary.judged)}",
        highlight=False,
    )
    if summary.notices:
        err.print("  notices: " + ", ".join(f"{kind} {n}x" for kind, n in summary.notices.items()), highlight=False)
    for server in summary.servers or ():
        aside = f", set aside {server['set_aside']}x" if server["set_aside"] else ""
        err.print(f"  server {escape(server['base_url'])}: {server['calls']} calls ({server['failed']} failed{aside})",
                  highlight=False)
    print_agreement(summary.agreement)
    print_cascade(summary.cascade)


def print_cascade(cascade: CascadeReport | None) -> None:
    """A cascade's levels: the share of verdicts each decided, what it passed on, its calls and cost."""
    if not cascade:
        return
    err.print(f"  cascade (threshold {cascade['threshold']:g}):", highlight=False)
    for i, level in enumerate(cascade["levels"]):
        share = "n/a" if level["share"] is None else f"{level['share']:.1%}"
        cost = "unknown" if level["cost_usd"] is None else f"${level['cost_usd']:.4f}"
        unmeasured = f", {level['unmeasured']} without a confidence" if level["unmeasured"] else ""
        err.print(f"    level {i + 1} {escape(level['judge'])}: decided {level['decided']} ({share}), passed on "
                  f"{level['escalated']} (failed {level['failed']}{unmeasured}); calls {level['calls']}, cost {cost}",
                  highlight=False, emoji=False)  # a spec such as openai:a is no emoji code
    check = cascade.get("check")
    if check:
        agreement = "n/a" if check["agreement"] is None else f"{check['agreement']:.1%}"
        cost = "unknown" if check["cost_usd"] is None else f"${check['cost_usd']:.4f}"
        err.print(f"    agreement with the last judge on a {check['rate']:g} sample: {agreement} ({check['agreed']} of "
                  f"{check['checked']} verdicts decided earlier); calls {check['calls']}, cost {cost}", highlight=False)


_AGREEMENT = {"self_agreement": "self-agreement over samples", "krippendorff_alpha": "inter-judge Krippendorff's alpha"}


def print_agreement(agreement: dict[str, dict[str, float | None]]) -> None:
    """Per criterion: how often repeated samples agreed, and a panel's inter-judge alpha."""
    for key, title in _AGREEMENT.items():
        if agreement.get(key):
            values = ", ".join(f"{cid} {'n/a' if v is None else f'{v:.2f}'}" for cid, v in agreement[key].items())
            err.print(f"  {title}: {escape(values)}", highlight=False)


def cost_line(cost_usd: float | None, note: str | None, rows: int) -> str:
    if cost_usd is None:
        return f"cost: unknown ({escape(note or 'no price')})"
    per_row = f" (${cost_usd / rows:.6f} per row)" if rows else ""
    return f"cost: ${cost_usd:.4f} at list price{per_row}"


def print_calls(judge: Judge) -> None:
    s = judge.stats.as_dict()
    err.print(f"  judge calls: {s['calls']} (retries {s['retries']}, re-asks {s['reasks']}, failed "
              f"{s['failed_calls']}); cache hits: {s['cache_hits']}; "
              f"{cost_line(judge.cost_usd, judge.pricing.reason, 0)}", highlight=False)
    print_if_every_call_failed(judge)


def print_if_every_call_failed(judge: Judge) -> None:
    """When no call of the judge succeeded: the first distinct reasons, each with its server's URL."""
    if judge_failed_entirely(judge):
        err.print("  every judge call failed; the first reasons:", highlight=False)
        print_failure_reasons(judge.stats.failure_reasons)


def judge_failed_entirely(judge: Judge) -> bool:
    return calls_failed_entirely(judge.stats.as_dict())


def calls_failed_entirely(stats: dict[str, int]) -> bool:
    return stats["failed_calls"] > 0 and stats["succeeded_calls"] == 0 and stats["cache_hits"] == 0


def exit_if_judge_failed(judge: Judge, summary: RunSummary | None = None) -> None:
    exit_if_run_failed(judge.stats.as_dict(), summary, servers=judge.server_usage(), reasons=judge.stats.failure_reasons)


def print_failure_reasons(reasons: dict[str, int]) -> None:
    """The first distinct reasons judge calls failed for (the server's URL first, credentials masked)."""
    for reason, calls in reasons.items():
        err.print(f"  {escape(redact(reason))} ({calls} call{'s' if calls != 1 else ''})", highlight=False)


def exit_if_run_failed(stats: dict[str, int], summary: RunSummary | None = None,
                       servers: list[ServerUsage] | None = None, reasons: dict[str, int] | None = None) -> None:
    """Exit 1 when no judge call succeeded at all (with the first reasons and each server's last
    error), or no row could be judged (the rows are written, with the reasons)."""
    if calls_failed_entirely(stats):
        first = "; the first reasons:" if reasons else ""
        err.print(f"[red]error[/red]: every judge call failed (each row's reason is under 'unscored' in the output){first}")
        print_failure_reasons(reasons or {})
        for server in servers or ():
            err.print(f"  server {escape(server['base_url'])}: {server['calls']} calls, {server['failed']} failed; "
                      f"last error: {escape(redact(server['last_error'] or 'none'))}", highlight=False)
        raise typer.Exit(1)
    if summary is not None and summary.judged and summary.failed_rows == summary.judged:
        err.print("[red]error[/red]: no row could be judged; see unscored['*'] in the output for the reasons")
        raise typer.Exit(1)


def write_json_report(report: Mapping[str, object], output: str | None, what: str) -> None:
    """A command's JSON report (credentials masked) to `output`: a file, stdout (`-`), or nowhere (None)."""
    text = json.dumps(redact_tree(report), ensure_ascii=False, indent=2)
    if output == "-":
        typer.echo(text)
    elif output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text + "\n", encoding="utf-8")
        err.print(f"{what} -> {escape(output)}", highlight=False)
