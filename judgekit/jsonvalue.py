"""The one type of a JSON value: what a data file's field, a judge's answer or a schema holds once
parsed. Read-only containers (`Sequence`, `Mapping`), so a `list[dict[str, str]]` is one too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JSONValue: TypeAlias = "str | int | float | bool | Sequence[JSONValue] | Mapping[str, JSONValue] | None"
JSONObject: TypeAlias = "Mapping[str, JSONValue]"  # a record, a message, a schema
