"""The `judgekit` command line (typer): the app, with the commands of each module registered on it.
Exit codes: 0 done, 1 the run failed, 2 bad input or usage; 130 / 143 interrupted by Ctrl-C /
SIGTERM, 141 stdout closed (judgekit.cli.runfile)."""

from __future__ import annotations

import gc
import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from typer.core import TyperGroup

from judgekit.errors import InputError, RunHalted
from judgekit.llm import young_gc
from judgekit.secrets import redact

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click.core import Command, Context  # the click that typer's TyperGroup is built on (vendored since 0.16)

    from judgekit.cli.runfile import RunStopped


def _usage_error_types() -> tuple[type[BaseException], ...]:
    # typer >= 0.16 vendors click and raises typer.TyperException subclasses; older typer uses click.
    if hasattr(typer, "TyperException"):
        return (typer.TyperException,)
    import click

    return (click.exceptions.ClickException,)


# Each command: its module (whose `register(app)` adds it) and its help line as `judgekit --help` lists
# it. A command's module, and all it imports, is loaded only when that command runs or its own
# --help is asked: start-up pays for one command, not all of them (a test keeps these lines equal
# to the commands' own help).
COMMANDS: dict[str, tuple[str, str]] = {
    "score": ("judgekit.cli.score", "Score each response against the rubric: one output row per input row."),
    "compare": ("judgekit.cli.pairwise",
                "Compare two responses per row, criterion by criterion, in both orders: winner, margin, preferences."),
    "rank": ("judgekit.cli.pairwise", "One reward in [0, 1] per response of each group (GRPO-style), by the chosen strategy."),
    "eval": ("judgekit.cli.evaluate",
             "Judge human-labelled data with the rubric: accuracy with its CI, kappa, ties, position consistency, cost."),
    "probe": ("judgekit.cli.probe", "Score attack responses built from each row; report how often the judge rewards them."),
    "report": ("judgekit.cli.report", "Write one self-contained HTML page (no network; opens from a file URL)."),
    "serve": ("judgekit.cli.rewards", "HTTP reward server for OpenRLHF (--reward.remote_url, before 0.10.2 --remote_rm_url:\n"
                                      "http://HOST:PORT/get_reward); GET /health."),
    "rubric": ("judgekit.cli.rubrics", "Check, show, generate and refine rubric files."),
    "config": ("judgekit.cli.config",
               "Show the effective judge settings and where each comes from (flags > environment > file > defaults)."),
}


class LazyCommands(TyperGroup):
    """The top-level group: lists every command of COMMANDS with its help line, builds one only when it runs."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        return _Listed(cmd_name, help=COMMANDS[cmd_name][1])

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] in COMMANDS:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, name: str) -> Command:
        """The command `name`, built from its module (once)."""
        if name not in self.commands:
            self.commands[name] = _build(name)
        return self.commands[name]

    def load_all(self) -> TyperGroup:
        for name in COMMANDS:
            self.load(name)
        return self


def _build(name: str) -> Command:
    from judgekit.cli.options import HelpLayout

    module = import_module(COMMANDS[name][0])
    holder = typer.Typer(help=COMMANDS[name][1], no_args_is_help=True)
    module.register(holder)
    for command in holder.registered_commands:
        command.cls = HelpLayout  # help texts as written, options in panels
    group = typer.main.get_group(holder)
    if name == "rubric":  # a group of its own: `judgekit rubric validate|show|generate|refine`
        group.name = name
        return group
    return group.commands[name]


class _Listed(typer.core.TyperCommand):
    """A command as `judgekit --help` lists it, before its module is loaded."""


app = typer.Typer(
    cls=LazyCommands, help="judgekit: turn rubrics into rewards.", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """The commands are COMMANDS (a typer app needs a callback to be a group without registered commands)."""


def _err() -> Console:
    from judgekit.cli.common import err  # loaded with the command that failed, not for --help

    return err


def _project_defaults() -> dict[str, object] | None:
    """click's default_map from a project file (judgekit.toml or [tool.judgekit]); without one, nothing
    more is loaded."""
    from judgekit.cli.settings import project_file

    if project_file() is None:
        return None
    from judgekit.cli.config import project_defaults

    root = typer.main.get_command(app)
    assert isinstance(root, LazyCommands)
    return project_defaults(root.load_all())


def _run_stopped() -> type[RunStopped]:
    from judgekit.cli.runfile import RunStopped

    return RunStopped


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns every known failure into a message and an exit code, never a traceback; ends
    the process (sys.exit)."""
    young_gc.for_this_process()
    try:
        _main(argv)
    finally:
        # The process ends here. At exit the interpreter runs full collections over every object the
        # command's imports made (pydantic's schemas, typer's, rich's: ~55,000), about 40 ms of a
        # short run's CPU; frozen, they are left to be freed with the process.
        gc.freeze()


def _main(argv: list[str] | None) -> None:
    try:
        code = app(args=argv, prog_name="judgekit", standalone_mode=False, default_map=_project_defaults())
    except InputError as exc:
        _err().print(f"[red]error[/red]: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        _err().print("aborted")
        sys.exit(1)
    except _usage_error_types() as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _err().print(f"error: {escape(str(exc))}")
        sys.exit(int(getattr(exc, "exit_code", 2) or 2))
    except RunHalted as exc:  # the embedded model died (1) or a limit was reached (3)
        _err().print(f"[red]error[/red]: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(exc.exit_code)
    except _run_stopped() as exc:  # a limit, Ctrl-C, SIGTERM, a closed stdout: the finished rows are kept
        if exc.summary is not None:
            from judgekit.cli.common import print_summary

            print_summary(exc.summary, exc.output)
        if exc.message:
            _err().print(exc.message, markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err().print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("JUDGEKIT_DEBUG"):
            raise
        _err().print(f"[red]error[/red]: the run failed: {type(exc).__name__}: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
