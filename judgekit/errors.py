"""Errors a user can act on: each names the place (file, line, criterion, field); and a row's failure
as the value its failed result is made from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class InputError(Exception):
    """Bad input or usage. The CLI prints it without a traceback and exits with code 2.

    `field` is a file's field or a command-line flag; with `call` (a Python call such as "Judge()")
    it is that call's argument instead. `cli_error`: the same error as the command line names it,
    kept when a Python call renamed a flag to its argument (arguments.argument_error)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        criterion: str | None = None,
        field: str | None = None,
        call: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.criterion = criterion
        self.field = field
        self.call = call
        self.cli_error: InputError | None = None
        super().__init__(str(self))

    def where(self) -> str:
        parts: list[str] = [self.call] if self.call else []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.criterion:
            parts.append(f"criterion '{self.criterion}'")
        if self.field:
            parts.append(f"argument '{self.field}'" if self.call else f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def located(self, *, file: str | None = None, line: int | None = None) -> InputError:
        """The same error with a file and line filled in where they were unknown."""
        return InputError(
            self.message,
            file=self.file or file,
            line=self.line if self.line is not None else line,
            criterion=self.criterion,
            field=self.field,
            call=self.call,
        )


class ArgumentError(InputError, TypeError, ValueError):
    """A Python call's argument that is unknown or bad, named as the caller wrote it. Also a TypeError
    and a ValueError, what Python and pydantic raise for these, so code that catches those still does."""


class JudgeError(Exception):
    """A judge call that failed for good (after retries). Its text is already redacted."""


class RunHalted(Exception):
    """The run cannot go on: it stops with `exit_code` and this one-line message; rows already
    written stay, and `--resume` completes the rest."""

    exit_code = 1


class JudgeCrashed(RunHalted):
    """The judge cannot go on (the embedded model's process died): exit code 1."""


class LimitReached(RunHalted):
    """A spending limit of the run (`--max-calls`, `--max-cost`) was reached: exit code 3, so a
    script can tell "stopped at the limit, resume with a new budget" from a failure."""

    exit_code = 3


class OutputFailed(RunHalted):
    """The output could not be written mid-run (disk full, a file-size limit): exit code 1, the rows
    written before it kept whole, the message naming the path and what to do."""


class JudgeUnreachable(RunHalted):
    """A judge's server did not answer the check made before a run's first row (or refused its
    credentials): exit code 1, nothing judged, nothing written."""


FailureKind = Literal["input", "judge"]


@dataclass(frozen=True)
class RowFailure:
    """Why a row has no result: the reason it carries (redacted) and whose failure it is: "input" (the
    row itself could not be judged: an InputError, such as no rubric or a field it lacks) or "judge"
    (judging it failed: the judge's error, or a text that could not be encoded)."""

    reason: str
    kind: FailureKind
