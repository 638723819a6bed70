"""YAML files whose errors name their line: load a file, validate it with a pydantic model, and
turn the first validation error into an InputError naming file, line and field path.

Used for the smaller YAML files (judge profiles, meta-rubrics); rubric files build their richer
messages (naming the criterion) on the same line lookup (judgekit.rubric.models).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from judgekit.errors import InputError

M = TypeVar("M", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (its wheels are), several times faster than the pure
# Python one; the same safe constructor either way.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSource:
    """A YAML file's data, and the lines of its nodes for messages (the node tree is built only when a
    message asks for a line: a valid file never needs it)."""

    def __init__(self, path: Path, data: object, text: str) -> None:
        self.path = path
        self.data = data
        self.text = text

    @cached_property
    def root(self) -> yaml.Node | None:
        return yaml.compose(self.text, Loader=_LOADER)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The 1-based line of the deepest node on the path `loc` that exists in the file."""
        node, line = self.root, (self.root.start_mark.line + 1) if self.root is not None else None
        for part in loc:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if str(key.value) == str(part):
                        nxt, line = value, key.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                nxt = node.value[part]
                line = nxt.start_mark.line + 1
            if nxt is None:
                break
            node = nxt
        return line


def parse_yaml(path: str | Path, *, what: str) -> YamlSource:
    """A YAML file's data (any YAML value); a missing file or broken YAML is an InputError with its line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", file=str(path))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8", file=str(path),
                         line=exc.object.count(b"\n", 0, exc.start) + 1) from None
    try:
        return YamlSource(path, yaml.load(text, Loader=_LOADER), text)
    except RecursionError:  # the pure Python parser recurses once per level of nesting
        raise InputError(f"not a {what} file judgekit reads: nested too deeply", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit on nesting
            raise InputError(f"not a {what} file judgekit reads: nested too deeply", file=str(path), line=line) from None
        raise InputError(f"not valid YAML: {problem}", file=str(path), line=line) from None


def read_yaml(path: str | Path, *, what: str) -> YamlSource:
    source = parse_yaml(path, what=what)
    if not isinstance(source.data, dict):
        raise InputError(f"a {what} file holds a mapping (key: value lines)", file=str(path))
    return source


def validate_yaml(source: YamlSource, model: type[M], **context: object) -> M:
    try:
        return model.model_validate(source.data, context=context or None)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union")))]
        kind = err.get("type", "")
        message = {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(
            kind, str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        )
        field = ".".join(str(p) for p in loc) or None
        raise InputError(message, file=str(source.path), line=source.line_of(loc), field=field) from None
