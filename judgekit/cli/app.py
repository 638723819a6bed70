"""The `judgekit` command line (typer): the app, with the commands of each module registered on it.
Exit codes: 0 done, 1 the run failed, 2 bad input or usage; 130 / 143 interrupted by Ctrl-C /
SIGTERM, 141 stdout closed (judgekit.cli.runfile)."""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from judgekit.cli import evaluate, pairwise, probe, report, rewards, rubrics, score
from judgekit.cli.common import err, print_summary
from judgekit.cli.options import HelpLayout
from judgekit.cli.runfile import RunStopped
from judgekit.errors import InputError, RunHalted
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
rubric_app = typer.Typer(help="Check, show, generate and refine rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
score.register(app)
pairwise.register(app)
evaluate.register(app)
probe.register(app)
report.register(app)
rubrics.register(rubric_app)
rewards.register(app)
for _command in (*app.registered_commands, *rubric_app.registered_commands):
    _command.cls = HelpLayout  # help texts as written, options in panels


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
    except RunHalted as exc:  # the embedded model died (1) or a limit was reached (3)
        err.print(f"[red]error[/red]: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(exc.exit_code)
    except RunStopped as exc:  # a limit, Ctrl-C, SIGTERM, a closed stdout: the finished rows are kept
        if exc.summary is not None:
            print_summary(exc.summary, exc.output)
        if exc.message:
            err.print(exc.message, markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("JUDGEKIT_DEBUG"):
            raise
        err.print(f"[red]error[/red]: the run failed: {type(exc).__name__}: {escape(redact(str(exc)))}", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
