"""Criterion ids ([a-z0-9_]+, at most MAX_ID_LEN characters) made from any text, unique within a rubric."""

from __future__ import annotations

import re

MAX_ID_LEN = 48


def slug(text: str, limit: int = MAX_ID_LEN) -> str:
    """A criterion id made from any text."""
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s[:limit].rstrip("_") or "criterion"


def unique_id(base: str, taken: set[str]) -> str:
    """`slug(base)`, with a numeric suffix when already taken; the id is added to `taken`."""
    base = slug(base)
    cid, n = base, 2
    while cid in taken:
        suffix = f"_{n}"
        cid = base[: MAX_ID_LEN - len(suffix)] + suffix
        n += 1
    taken.add(cid)
    return cid
