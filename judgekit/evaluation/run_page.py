"""The page of one run's output rows (score, compare or rank), made in one streaming pass, so `judgekit
report` holds a bounded amount whatever the run's size.

Each output row is read beside its input row (the run record says where the input is: output rows are in
input order, one per input row) and leaves:
- its counts (per criterion and verdict, the reward histogram or the winners, the unscored reasons);
- a compact summary (id, reward or winner, coverage, one letter per criterion, flags), for the first
  `SUMMARIES` rows;
- its full text (prompt, responses, verdicts, reasoning, reasons) for the first `SAMPLE` rows and for every
  row that failed, was left unscored, disagrees with its label or whose two orders disagree, up to
  `FLAGGED` of those and `DETAIL_BUDGET` characters in all; each text cut at `TEXT_CAP` characters.
The page states these bounds, so a reader knows what is and is not in it.

The judge's reasoning is what the rows carry under `explanations`, which a run writes with `--explain`:
the page says so when a run has none (the reasoning is not in the cache's keys to look up afterwards).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from judgekit.data.reader import JsonRecord, json_records, records
from judgekit.data.rows import content_digest, message_text, pair_label, pick
from judgekit.errors import InputError
from judgekit.judging.results import NOT_APPLICABLE, RATED, score_verdict
from judgekit.secrets import redact, redact_tree

Kind = Literal["score", "compare", "rank"]
SAMPLE, FLAGGED, SUMMARIES = 200, 1000, 20_000
TEXT_CAP, DETAIL_BUDGET, REASONS = 3000, 4_000_000, 200
_BINS = 10
_SHAPES: dict[str, type] = {"unscored": dict, "explanations": dict, "ratings": dict, "not_applicable": list,
                            "inconsistent": list}
_NUMBERS = ("reward", "margin", "coverage", "soft_reward")  # shown rounded
SCORE_CODES = {"MET": "M", "UNMET": "U", "unscored": "-", RATED: "R", NOT_APPLICABLE: "N"}
COMPARE_NAMES = {1: "A", -1: "B", 0: "tie"}
COMPARE_CODES = {"A": "A", "B": "B", "tie": "T", "unscored": "-", NOT_APPLICABLE: "N"}
TEXT_FIELDS: dict[Kind, tuple[str, ...]] = {"score": ("prompt", "response", "reference"),
                                            "compare": ("prompt", "response_a", "response_b", "reference"),
                                            "rank": ("prompt", "responses", "reference")}


def row_kind(obj: Mapping[str, object], file: str, line: int) -> Kind:
    """The kind of an output row, its fields checked: a field the page cannot read is named."""
    if isinstance(obj.get("scores"), dict):
        kind: Kind = "score"
        values: Any = obj["scores"]
    elif isinstance(obj.get("preferences"), dict):
        kind, values = "compare", obj["preferences"]
    elif isinstance(obj.get("rewards"), list):
        return "rank"
    else:
        raise InputError("not an output row of score, compare or rank (no 'scores' or 'preferences' object)",
                         file=file, line=line, field="scores")
    key = "scores" if kind == "score" else "preferences"
    for cid, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value):
            raise InputError(f"not an output row of {kind}: a verdict is a number or null", file=file, line=line,
                             field=f"{key}.{cid}")
    reward = obj.get("reward")
    if reward is not None and (isinstance(reward, bool) or not isinstance(reward, (int, float))):
        raise InputError(f"not an output row of {kind}: the reward is a number or null", file=file, line=line, field="reward")
    for name, shape in _SHAPES.items():
        if obj.get(name) is not None and not isinstance(obj[name], shape):
            raise InputError(f"not an output row of {kind}: '{name}' is {'an object' if shape is dict else 'a list'}",
                             file=file, line=line, field=name)
    return kind


def verdict_of(kind: Kind, row: dict[str, Any], cid: str) -> str:
    if kind == "score":
        return score_verdict(row, cid)
    if cid in (row.get("not_applicable") or []):
        return NOT_APPLICABLE
    return COMPARE_NAMES.get(row["preferences"][cid], "unscored")


def cut(value: object) -> str | list[str] | None:
    """A judged text as the page shows it: chat turns with their roles, credentials redacted, cut at TEXT_CAP."""
    if value is None:
        return None
    if isinstance(value, list) and value and not all(isinstance(m, dict) and "role" in m for m in value):
        return [str(cut(v)) for v in value]  # a rank row's responses
    text = value if isinstance(value, str) else _messages(value) if isinstance(value, list) else json.dumps(value)
    text = redact(text)
    return text if len(text) <= TEXT_CAP else f"{text[:TEXT_CAP]}… [{len(text) - TEXT_CAP} more characters not shown]"


def _messages(value: Sequence[object]) -> str:
    """A chat as the judge read it: every turn with its role."""
    return "\n\n".join(f"[{m.get('role')}] {message_text(m)}" if isinstance(m, dict) else str(m) for m in value)


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False))


@dataclass
class RunPage:
    """What the page of a run shows, filled one row at a time (`add`)."""

    kind: Kind
    rows: int = 0
    criteria: list[str] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    inconsistent: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    summaries: list[list[Any]] = field(default_factory=list)
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    flagged: int = 0  # rows that failed, were unscored, disagree or are inconsistent
    flagged_shown: int = 0
    budget: int = DETAIL_BUDGET
    explained: bool = False
    labelled: bool = False
    texts: bool = False

    def add(self, row: dict[str, Any], given: dict[str, object] | None) -> None:
        index = self.rows
        self.rows += 1
        codes = self._count(row)
        label = pair_label(given.get("label")) if given is not None and self.kind == "compare" else None
        self.labelled = self.labelled or label is not None
        disagrees = label is not None and str(row.get("winner")) != label
        unscored = row.get("unscored") or {}
        failed = "*" in unscored
        flags = "".join(f for f, on in (("f", failed), ("u", bool(unscored) or self._no_outcome(row)),
                                        ("i", bool(row.get("inconsistent"))), ("d", disagrees)) if on)
        self.explained = self.explained or bool(row.get("explanations"))
        if index < SUMMARIES:
            self.summaries.append([row.get("id"), self._outcome(row), _round(row.get("coverage")), codes, flags])
        if flags:
            self.flagged += 1
        if index < SAMPLE or (flags and self.flagged_shown < FLAGGED):
            self._detail(index, row, given, label, bool(flags))

    def _count(self, row: dict[str, Any]) -> str:
        if self.kind == "rank":
            rewards = row.get("rewards") or []
            self.outcomes[str(_best(rewards))] += 1
            return ""
        key = "scores" if self.kind == "score" else "preferences"
        names = SCORE_CODES if self.kind == "score" else COMPARE_CODES
        for cid in row[key]:
            if cid not in self.counts:
                self.criteria.append(cid)
                self.counts[cid] = Counter()
        for cid in row.get("inconsistent") or []:
            self.inconsistent[str(cid)] += 1
        for reason in (row.get("unscored") or {}).values():
            if str(reason) in self.reasons or len(self.reasons) < REASONS:
                self.reasons[redact(str(reason))] += 1
        codes = []
        for cid in self.criteria:
            if cid in row[key]:
                verdict = verdict_of(self.kind, row, cid)
                self.counts[cid][verdict] += 1
                codes.append(names[verdict])
            else:
                codes.append(" ")
        if self.kind == "score":
            reward = row.get("reward")
            self.outcomes["unscored" if reward is None else _bin(float(reward))] += 1
        else:
            winner = row.get("winner")
            self.outcomes["unscored" if winner is None else str(winner)] += 1
        return "".join(codes)

    def _outcome(self, row: dict[str, Any]) -> Any:
        if self.kind == "score":
            return _round(row.get("reward"))
        if self.kind == "compare":
            return row.get("winner")
        return [_round(r) for r in row.get("rewards") or []]

    def _no_outcome(self, row: dict[str, Any]) -> bool:
        if self.kind == "score":
            return row.get("reward") is None
        if self.kind == "compare":
            return row.get("winner") is None
        return None in (row.get("rewards") or [None])

    def _detail(self, index: int, row: Mapping[str, object], given: Mapping[str, object] | None, label: str | None, flagged: bool) -> None:
        texts = {} if given is None else {name: cut(given.get(name)) for name in TEXT_FIELDS[self.kind]
                                           if given.get(name) is not None}
        self.texts = self.texts or bool(texts)
        shown = {k: _round(v) if k in _NUMBERS else v for k, v in redact_tree(row).items()}
        detail = {"row": shown, "texts": texts, **({"label": label} if label is not None else {})}
        size = _size(detail)
        if size > self.budget:
            return
        self.budget -= size
        self.details[index] = detail
        self.flagged_shown += flagged


def _round(value: object) -> Any:
    return round(float(value), 3) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _bin(reward: float) -> str:
    i = min(_BINS - 1, max(0, int(reward * _BINS)))
    return f"{i / _BINS:.1f}–{(i + 1) / _BINS:.1f}"


def reward_bins() -> list[str]:
    return [f"{i / _BINS:.1f}–{(i + 1) / _BINS:.1f}" for i in range(_BINS)]


def _best(rewards: Sequence[object]) -> int | None:
    scored = [(r, i) for i, r in enumerate(rewards) if isinstance(r, (int, float))]
    return max(scored)[1] if scored else None


def output_rows(path: Path) -> Iterator[tuple[Kind, JsonRecord]]:
    """The output rows of one run, all of one kind, each checked."""
    kind: Kind | None = None
    for record in json_records(path):
        this = row_kind(record.obj, str(path), record.line)
        if kind is not None and this != kind:
            raise InputError(f"a {this} row in a {kind} run", file=str(path), line=record.line, field="scores")
        kind = this
        yield this, record
    if kind is None:
        raise InputError("no rows", file=str(path))


def input_texts(record: dict[str, Any] | None, mapping: dict[str, str]) -> Iterator[dict[str, Any]] | None:
    """The input rows' judged fields, in order, as the run read them; None when the input is not at hand or
    its content is not the one the run judged (the record's digest of it). So a run and record received from
    elsewhere cannot make the page read, and embed, another file of this machine."""
    about = (record or {}).get("about") or {}
    path, split = about.get("input_path"), about.get("split")
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    try:
        if content_digest(path, split) != (record or {}).get("input"):
            return None
    except (InputError, OSError):
        return None
    names = ("id", "prompt", "response", "response_a", "response_b", "responses", "reference", "label")

    def fields() -> Iterator[dict[str, Any]]:
        for rec in records(path, split=split):
            got = {name: pick(rec.obj, name, mapping)[1] for name in names}
            yield {**got, "id": rec.number if got["id"] is None else got["id"]}
    return fields()


def build(path: Path, record: dict[str, object] | None) -> RunPage:
    """One pass over the run's rows (and its input beside them, while their ids agree)."""
    fields = (record or {}).get("fields")
    mapping: dict[str, str] = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    given = input_texts(record, mapping)
    page: RunPage | None = None
    for kind, rec in output_rows(path):
        if page is None:
            page = RunPage(kind=kind)
        source = next(given, None) if given is not None else None
        if source is not None and str(source["id"]) != str(rec.obj.get("id")):
            given, source = None, None  # not this run's input any more: no text rather than the wrong one
        page.add(rec.obj, source)
    assert page is not None  # output_rows raises on an empty run
    return page
