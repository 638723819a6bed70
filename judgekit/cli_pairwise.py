"""CLI commands for the pairwise part of judgekit (registered on the main app by judgekit.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, rubric_app: typer.Typer) -> None:
    return None
