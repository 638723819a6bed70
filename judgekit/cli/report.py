"""`judgekit report`: a run's output rows or an eval report as one HTML page to look at."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from judgekit.cli.common import err
from judgekit.cli.options import IO_PANEL
from judgekit.errors import InputError
from judgekit.evaluation.html_report import write_report
from judgekit.evaluation.probe_page import is_probe_report, write_probe_page


def report(
    sources: list[Path] = typer.Argument(..., help="RUN.jsonl (the output of score, compare or rank), REPORT.json (of eval) "
                                         "or probe.json; two runs on the same rows (A.jsonl B.jsonl): where they differ",
                                         metavar="SOURCE..."),
    output: Path | None = typer.Option(None, "--output", "-o", help="the HTML file [default: SOURCE with .html]",
                                         rich_help_panel=IO_PANEL),
) -> None:
    """Write one self-contained HTML page (no network; opens from a file URL)."""
    if len(sources) > 2:
        raise InputError("one run (or eval report), or two runs to compare", field="SOURCE")
    for source in sources:
        if not source.is_file():
            raise InputError("not found", file=str(source))
    source, other = sources[0], (sources[1] if len(sources) == 2 else None)
    if other is not None and source.suffix == ".json":
        raise InputError("two runs are compared from their output rows (.jsonl), not from eval reports", file=str(source))
    target = output or source.with_suffix(".html")
    if other is None and is_probe_report(source):
        write_probe_page(source, target)
    else:
        write_report(source, target, other)
    err.print(f"report -> {escape(str(target))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
