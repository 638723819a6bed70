"""Judge settings given once: from the environment (`JUDGEKIT_JUDGE`, `JUDGEKIT_BASE_URL`, ... one variable
per judge option, its name in capitals) and from a project file read when present in the working directory
(`judgekit.toml`, or the `[tool.judgekit]` table of `pyproject.toml`), keyed by the option's name
(`judge = "openai:Qwen/Qwen3-8B"`, `base-url = "http://127.0.0.1:8000/v1"`, `concurrency = 64`).

Precedence: a flag on the command line, then the environment, then the file, then judgekit's default. The
environment and the flags are read by click (each option's `envvar`); the file becomes click's `default_map`
for every command that takes the option, so a value is converted and checked as the flag's would be. A key
the file cannot hold, or a value of the wrong type, is bad usage naming the file, line and field (exit 2).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from judgekit.errors import InputError

PREFIX = "JUDGEKIT_"
FILE, PYPROJECT = "judgekit.toml", "pyproject.toml"
Value = str | int | float | bool | list[str]


def env_var(name: str) -> str:
    """The environment variable of a judge option: `base_url` -> JUDGEKIT_BASE_URL."""
    return PREFIX + name.upper()


@dataclass(frozen=True)
class ProjectFile:
    path: Path
    values: dict[str, Value]  # by option name (base_url)
    lines: dict[str, int]


# Where TOML can name [tool.judgekit]: its header ([tool.judgekit], [ tool . "judgekit" ]), a dotted key
# (tool.judgekit.judge = ..., or judgekit.judge = ... under [tool]), an inline table (judgekit = {...}).
# A line that matches only costs the file's parse; a file without one has no table of ours.
_OUR_TABLE = re.compile(r"""^\s*\[\s*tool\s*\.\s*["']?judgekit["']?\s*[.\]]|^\s*(tool\s*\.\s*)?["']?judgekit["']?\s*(\.|=\s*\{)"""
                        r"""|^\s*tool\s*=\s*\{.*judgekit""", re.MULTILINE)


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*['\"]?{re.escape(key)}['\"]?\s*=", line):
            return number
    return None


def project_file(folder: Path | None = None) -> ProjectFile | None:
    """The project's settings file in `folder` (the working directory): judgekit.toml, else pyproject.toml's
    [tool.judgekit] table; None when there is neither."""
    folder = folder or Path.cwd()
    for path, table in ((folder / FILE, ()), (folder / PYPROJECT, ("tool", "judgekit"))):
        if not path.is_file():
            continue
        if sys.version_info < (3, 11):  # tomllib is new in 3.11; judgekit adds no TOML dependency for 3.10
            if path.name == FILE:
                raise InputError("reading judgekit.toml needs Python 3.11 or later; give the settings as JUDGEKIT_* "
                                 "environment variables or flags", file=str(path))
            continue
        text = path.read_text(encoding="utf-8")
        if table and not _OUR_TABLE.search(text):  # a project's pyproject.toml without our table: not parsed
            continue
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = re.search(r"line (\d+)", str(exc))
            raise InputError(f"not valid TOML: {exc}", file=str(path), line=int(line.group(1)) if line else None) from None
        for key in table:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise InputError("[tool.judgekit] is not a table", file=str(path), field="tool.judgekit")
        return ProjectFile(path, {k.replace("-", "_"): v for k, v in data.items()},
                           {k.replace("-", "_"): _line_of(text, k) or 1 for k in data})
    return None


Command = Any  # a command of typer's own click (typer.main.get_command), read by duck typing


def _commands(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def default_map(root: Command, file: ProjectFile, kinds: dict[str, object]) -> dict[str, object]:
    """click's default_map of the file's values, for every command that takes each; `kinds`: each setting's
    type (its option's annotation), which its value must have."""
    unknown = sorted(set(file.values) - set(kinds))
    if unknown:
        key = unknown[0]
        raise InputError(f"not a judgekit setting (the settings: {', '.join(sorted(s.replace('_', '-') for s in kinds))})",
                         file=str(file.path), line=file.lines[key], field=key.replace("_", "-"))
    checked = {name: _checked(name, value, kinds[name], file) for name, value in file.values.items()}
    tree: dict[str, object] = {}
    for path, command in _commands(root):
        values = {p.name: checked[p.name] for p in command.params if p.name in checked}
        if values and path:
            node = tree
            for name in path[:-1]:
                node = node.setdefault(name, {})  # type: ignore[assignment]
            node[path[-1]] = values
    return tree


def _accepts(kind: object, value: object) -> bool:
    args = get_args(kind)
    if args and get_origin(kind) is not list:  # X | None: a value of X (TOML has no null)
        return any(_accepts(a, value) for a in args if a is not type(None))
    if get_origin(kind) is list:
        return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)  # str, Path


def _checked(name: str, value: Value, kind: object, file: ProjectFile) -> Value:
    if not _accepts(kind, value):
        raise InputError(f"not a valid value ({value!r}): it takes {_named(kind)}", file=str(file.path),
                         line=file.lines[name], field=name.replace("_", "-"))
    if get_origin(kind) is list or list in (get_origin(a) for a in get_args(kind)):
        return [value] if isinstance(value, str) else value
    return value


def _named(kind: object) -> str:
    args = [a for a in get_args(kind) if a is not type(None)] if get_origin(kind) is not list else []
    if args:
        return " or ".join(_named(a) for a in args)
    if get_origin(kind) is list:
        return "a string or a list of strings"
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "a string")  # type: ignore[call-overload]


def source_of(name: str, file: ProjectFile | None) -> str:
    """Where a setting's value comes from when no flag gives it: the environment, the file or the default."""
    if os.environ.get(env_var(name)) not in (None, ""):
        return f"environment ({env_var(name)})"
    if file is not None and name in file.values:
        return f"{file.path.name}:{file.lines[name]}"
    return "default"
