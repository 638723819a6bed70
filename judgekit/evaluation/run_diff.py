"""Two runs on the same rows (two judges, profiles or rubrics) side by side: where they differ, per
criterion, with the judged texts. One streaming pass over both outputs (and the first run's input, for
the texts), so a page of two large runs is made in bounded memory and stays bounded: every differing row
is counted, the first `SUMMARIES` are listed, the first `FLAGGED` with their texts and both runs' reasoning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from judgekit.errors import InputError
from judgekit.evaluation.run_page import FLAGGED, SUMMARIES, TEXT_FIELDS, Kind, cut, input_texts, output_rows, verdict_of
from judgekit.secrets import redact_tree


@dataclass
class RunDiff:
    kind: Kind
    rows: int = 0
    differing: int = 0
    criteria: list[str] = field(default_factory=list)
    changes: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)  # criterion -> (A verdict, B verdict) -> rows
    listed: list[dict[str, Any]] = field(default_factory=list)
    shown: int = 0

    def add(self, a: dict[str, Any], b: dict[str, Any], given: Mapping[str, object] | None) -> None:
        self.rows += 1
        key = "scores" if self.kind == "score" else "preferences"
        changed = []
        for cid in dict.fromkeys([*(a.get(key) or {}), *(b.get(key) or {})]):
            if cid not in self.changes:
                self.criteria.append(cid)
                self.changes[cid] = Counter()
            va = verdict_of(self.kind, a, cid) if cid in (a.get(key) or {}) else "absent"
            vb = verdict_of(self.kind, b, cid) if cid in (b.get(key) or {}) else "absent"
            self.changes[cid][(va, vb)] += 1
            if va != vb:
                changed.append({"id": cid, "a": va, "b": vb, "why_a": _why(a, cid), "why_b": _why(b, cid)})
        outcome = "reward" if self.kind == "score" else "winner"
        if not changed and _outcome(a, outcome) == _outcome(b, outcome):
            return
        self.differing += 1
        if len(self.listed) >= SUMMARIES:
            return
        item: dict[str, Any] = {"id": a.get("id"), "a": _outcome(a, outcome), "b": _outcome(b, outcome), "criteria": changed}
        if self.shown < FLAGGED and given is not None:
            item["texts"] = {name: cut(given.get(name)) for name in TEXT_FIELDS[self.kind] if given.get(name) is not None}
            self.shown += 1
        self.listed.append(redact_tree(item))


def _why(row: dict[str, Any], cid: str) -> str:
    return str((row.get("unscored") or {}).get(cid) or (row.get("explanations") or {}).get(cid) or "")


def _outcome(row: Mapping[str, object], name: str) -> Any:
    value = row.get(name)
    return round(float(value), 3) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def diff_runs(first: Path, second: Path, record: dict[str, object] | None) -> RunDiff:
    """The rows of `first` and `second` in step; rows are matched by position and must carry the same ids."""
    fields = (record or {}).get("fields")
    mapping = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    given = input_texts(record, mapping)
    diff: RunDiff | None = None
    for pair in zip_longest(output_rows(first), output_rows(second)):
        if pair[0] is None or pair[1] is None:
            longer, rec = (second, pair[1]) if pair[0] is None else (first, pair[0])
            raise InputError("the two runs have a different number of rows: not the same rows", file=str(longer),
                             line=rec[1].line)
        (kind_a, a), (kind_b, b) = pair
        if kind_a != kind_b:
            raise InputError(f"a {kind_b} run beside a {kind_a} run", file=str(second), line=b.line, field="scores")
        if str(a.obj.get("id")) != str(b.obj.get("id")):
            raise InputError(f"row id {b.obj.get('id')!r} where the other run has {a.obj.get('id')!r}: not the same rows",
                             file=str(second), line=b.line, field="id")
        if kind_a == "rank":
            raise InputError("two rank runs are not compared row by row; compare score or compare runs", file=str(first))
        diff = diff or RunDiff(kind=kind_a)
        source = next(given, None) if given is not None else None
        if source is not None and str(source["id"]) != str(a.obj.get("id")):
            given, source = None, None
        diff.add(a.obj, b.obj, source)
    assert diff is not None  # output_rows raises on an empty run
    return diff
