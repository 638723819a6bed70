"""`judgekit config`: the judge settings a run would take when no flag gives them, and where each comes from
(the environment, the project file, the default). Keys are never shown: only whether each is set."""

from __future__ import annotations

import os

import typer
from rich.markup import escape

from judgekit.cli.common import err
from judgekit.cli.options import judge_parameters
from judgekit.cli.settings import Command, default_map, env_var, project_file, source_of
from judgekit.data.runrecord import public_url

_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "JUDGEKIT_API_KEY")


def settable() -> dict[str, object]:
    """Each judge setting's type, as its option declares it."""
    return {p.name: p.annotation for p in judge_parameters(several_profiles=False)}


def project_defaults(root: Command) -> dict[str, object] | None:
    """click's default_map from the project file, if there is one, for the commands under `root` (its
    errors: exit 2 naming file, line, field)."""
    file = project_file()
    if file is None:
        return None
    return default_map(root, file, settable())


def _shown(name: str, value: object) -> str:
    if value is None:
        return "–"
    if name in ("base_url", "generator_base_url"):
        urls = value.split() if isinstance(value, str) else list(value) if isinstance(value, list) else [value]
        return " ".join(public_url(str(u)) for u in urls)
    return str(value)


def config() -> None:
    """Show the effective judge settings and where each comes from (flags > environment > file > defaults)."""
    file = project_file()
    err.print(f"project file: {escape(str(file.path)) if file else 'none (judgekit.toml or [tool.judgekit] in pyproject.toml)'}",
              highlight=False)
    for param in judge_parameters(several_profiles=False):
        default = getattr(param.default, "default", None)
        source = source_of(param.name, file)
        value = os.environ.get(env_var(param.name)) if source.startswith("environment") else \
            file.values[param.name] if file is not None and param.name in file.values else default
        print(f"{param.name.replace('_', '-'):<20} {_shown(param.name, value):<40} {source}")
    for key in _KEYS:
        print(f"{key:<20} {'set' if os.environ.get(key) else 'not set'}")


def register(app: typer.Typer) -> None:
    app.command("config")(config)
