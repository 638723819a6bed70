"""A Python caller's keyword arguments, checked into a JudgeConfig, and errors that name them as the
caller wrote them (`Judge(concurency=4)` names the argument `concurrency`, not the flag `--concurrency`).

Above `config` and `errors`, which it joins; below everything else."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping

from pydantic import ValidationError

from judgekit.config import JudgeConfig
from judgekit.errors import ArgumentError, InputError

# The command-line flags whose Python argument is not the flag's own name with underscores.
_ARGUMENT_OF_FLAG = {"--judge": "spec", "--no-cache": "cache"}
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")
JUDGE_ARGUMENTS = ("spec", "base_url", "api_key", "backend")  # Judge()'s own, besides JudgeConfig's


def judge_config(call: str, options: Mapping[str, object], *, arguments: Collection[str] = ()) -> JudgeConfig:
    """The JudgeConfig of a Python caller's keyword arguments. An unknown one (with the closest known
    name: `arguments`, the call's own, or a JudgeConfig field) or a bad value is an InputError naming
    the argument of `call`, not a command-line flag and not pydantic's internals."""
    known = [*arguments, *JudgeConfig.model_fields]
    for name in options:
        if name not in JudgeConfig.model_fields:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ArgumentError(f"unknown argument{hint}", field=name, call=call)
    try:
        return JudgeConfig.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # the one rule across fields (samples with temperature 0)
            raise ArgumentError(first["msg"].removeprefix("Value error, "), call=call) from None
        raise ArgumentError(f"{first['msg']} (got {first['input']!r})", field=str(first["loc"][0]), call=call) from None


def argument_error(exc: InputError, call: str) -> InputError:
    """`exc` as a Python caller of `call` should read it: command-line flags (in its field and its
    text) named as `call`'s arguments. The command line's form is kept as its `cli_error`."""
    if exc.call is not None:
        return exc

    def argument(flag: str) -> str | None:
        name = _ARGUMENT_OF_FLAG.get(flag, flag[2:].replace("-", "_"))
        return name if flag.startswith("--") and (name in JUDGE_ARGUMENTS or name in JudgeConfig.model_fields) else None

    field = argument(exc.field) if exc.field else None
    if exc.field and field is None:  # a file's field or an environment variable: named as it is
        return exc
    message = _FLAG.sub(lambda m: repr(name) if (name := argument(m.group())) else m.group(), exc.message)
    renamed = ArgumentError(message, file=exc.file, line=exc.line, criterion=exc.criterion, field=field, call=call)
    renamed.cli_error = exc
    return renamed
