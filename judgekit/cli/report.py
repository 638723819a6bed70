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
    source: Path = typer.Argument(..., help="RUN.jsonl (the output of score or compare), REPORT.json (of eval) or probe.json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="the HTML file [default: SOURCE with .html]",
                                         rich_help_panel=IO_PANEL),
) -> None:
    """Write one self-contained HTML page (no network; opens from a file URL)."""
    if not source.is_file():
        raise InputError("not found", file=str(source))
    target = output or source.with_suffix(".html")
    (write_probe_page if is_probe_report(source) else write_report)(source, target)
    err.print(f"report -> {escape(str(target))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
