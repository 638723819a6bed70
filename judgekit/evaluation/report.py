"""The frame every `judgekit eval` report shares (SPEC section 8): the run's settings, then the
statistics (`overall` and `subsets`, or `criteria` for per-criterion labels), the judge's `calls`
and `tokens`, and `cost_usd` (null here; `judgekit eval` fills in the judge's cost at list price,
which stays null for a model without a price)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from judgekit.errors import InputError
from judgekit.llm.usage import ScopeUsage


def usage_summary(usages: Iterable[ScopeUsage]) -> dict[str, Any]:
    """Judge requests (re-asks included), verdicts served from the cache, and tokens, summed."""
    total = ScopeUsage()
    for u in usages:
        total.calls += u.calls
        total.cache_hits += u.cache_hits
        total.prompt_tokens += u.prompt_tokens
        total.completion_tokens += u.completion_tokens
    return {"calls": total.calls, "cache_hits": total.cache_hits,
            "tokens": {"prompt": total.prompt_tokens, "completion": total.completion_tokens,
                       "total": total.prompt_tokens + total.completion_tokens}}


def companion_file(report: Path, named: object) -> Path | None:
    """The companion file a report names (`pairs_file`), only ever beside the report: a name with a
    folder or `..` in it, or a link out of the report's folder, is an InputError (a report is data,
    and must not make judgekit read any other file)."""
    if not isinstance(named, str):
        return None
    path = report.parent / named
    if Path(named).name != named or named in ("", ".", "..") or path.resolve().parent != report.parent.resolve():
        raise InputError(f"pairs_file must name a file beside the report (a bare file name), got {named!r}",
                         file=str(report), field="pairs_file")
    return path


def frame(meta: Mapping[str, object], body: Mapping[str, object], usages: Iterable[ScopeUsage]) -> dict[str, Any]:
    """The settings, the statistics (`overall`, `subsets` or `criteria`), then usage and cost."""
    return {**meta, **body, **usage_summary(usages), "cost_usd": None}
