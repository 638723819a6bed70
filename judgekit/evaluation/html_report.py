"""`judgekit report`: one self-contained HTML page for a run's output rows (score or compare) or an
eval report (JSON). Inline CSS, SVG and script only: no network, and it works from a file URL.

The counts are computed here and rendered by the template (prompts/report/*.html.j2); the rows to
browse travel inside the page as JSON and a small script lays them out and filters them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judgekit.data.outfile import cannot_write, refuse_input_as_output
from judgekit.data.reader import json_records, load_json
from judgekit.errors import InputError
from judgekit.evaluation.report import companion_file
from judgekit.judging.results import NOT_APPLICABLE, RATED, score_verdict
from judgekit.protocol.templates import render
from judgekit.secrets import redact_tree

Kind = Literal["score", "compare", "eval"]
SCORE_VERDICTS = {1: "MET", 0: "UNMET", None: "unscored"}
COMPARE_VERDICTS = {1: "A", -1: "B", 0: "tie", None: "unscored"}
_BINS = 10


class CriterionCounts(BaseModel):
    id: str
    counts: dict[str, int]
    inconsistent: int = 0

    @property
    def scored(self) -> int:
        return sum(n for verdict, n in self.counts.items() if verdict not in ("unscored", NOT_APPLICABLE))


class Bin(BaseModel):
    label: str
    count: int


class RunView(BaseModel):
    """What the page of a score or compare run shows."""

    kind: Kind
    source: str
    rows: int
    verdicts: list[str]
    criteria: list[CriterionCounts]
    outcomes: list[Bin]  # score: the reward histogram (and null); compare: winners
    reasons: list[Bin]  # unscored reasons, most frequent first
    browse: list[dict[str, Any]]


Verdict = Annotated[float, Field(allow_inf_nan=False)] | None


class _RunRow(BaseModel):
    """The fields of an output row the page reads, with their types (the rest is shown as it is)."""

    model_config = ConfigDict(extra="allow")
    unscored: dict[str, Any] | None = None
    not_applicable: list[str] | None = None


class _ScoreRow(_RunRow):
    scores: dict[str, Verdict]
    reward: Verdict = None
    ratings: dict[str, Any] | None = None


class _CompareRow(_RunRow):
    preferences: dict[str, Verdict]
    winner: str | None = None
    inconsistent: list[str] | None = None


_ROW_MODELS: dict[Kind, type[_RunRow]] = {"score": _ScoreRow, "compare": _CompareRow}


def _row_kind(obj: dict[str, Any], file: str, line: int) -> Kind:
    """The kind of an output row, its fields checked: a field the page cannot read is named."""
    kind: Kind | None = "score" if "scores" in obj else "compare" if "preferences" in obj else None
    if kind is None:
        raise InputError("not an output row of score or compare (no 'scores' or 'preferences' object)",
                         file=file, line=line, field="scores")
    try:
        _ROW_MODELS[kind].model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"not an output row of {kind}: {first['msg']}", file=file, line=line,
                         field=".".join(str(p) for p in first["loc"])) from None
    return kind


def read_rows(path: Path) -> tuple[Kind, list[dict[str, Any]]]:
    """The output rows of one run (all of one kind)."""
    kind: Kind | None = None
    rows: list[dict[str, Any]] = []
    for record in json_records(path):
        this = _row_kind(record.obj, str(path), record.line)
        if kind is not None and this != kind:
            raise InputError(f"a {this} row in a {kind} run", file=str(path), line=record.line, field="scores")
        kind = this
        rows.append(record.obj)
    if kind is None:
        raise InputError("no rows", file=str(path))
    return kind, rows


def verdict_name(row: dict[str, Any], key: str, cid: str, names: dict[int | None, str]) -> str:
    """How a criterion's verdict in an output row is shown (the page's script names them alike)."""
    if key == "scores":
        return score_verdict(row, cid)
    if cid in (row.get("not_applicable") or []):
        return NOT_APPLICABLE
    return names.get(row[key][cid], "unscored")


def _criterion_counts(rows: list[dict[str, Any]], key: str, verdicts: list[str],
                      names: dict[int | None, str]) -> list[CriterionCounts]:
    counts: dict[str, Counter[str]] = {}
    inconsistent: Counter[str] = Counter()
    for row in rows:
        for cid in row.get(key, {}):
            counts.setdefault(cid, Counter())[verdict_name(row, key, cid, names)] += 1
        inconsistent.update(row.get("inconsistent") or [])
    return [CriterionCounts(id=cid, counts={v: c[v] for v in verdicts}, inconsistent=inconsistent[cid])
            for cid, c in counts.items()]


def _reward_bins(rows: list[dict[str, Any]]) -> list[Bin]:
    bins = [0] * _BINS
    missing = 0
    for row in rows:
        reward = row.get("reward")
        if isinstance(reward, (int, float)):
            bins[min(_BINS - 1, max(0, int(float(reward) * _BINS)))] += 1
        else:
            missing += 1
    labels = [f"{i / _BINS:.1f}–{(i + 1) / _BINS:.1f}" for i in range(_BINS)]
    return [*(Bin(label=label, count=n) for label, n in zip(labels, bins)), Bin(label="null", count=missing)]


def _reasons(rows: list[dict[str, Any]]) -> list[Bin]:
    reasons = Counter(str(reason) for row in rows for reason in (row.get("unscored") or {}).values())
    return [Bin(label=reason, count=n) for reason, n in reasons.most_common(30)]


def run_view(kind: Kind, rows: list[dict[str, Any]], source: str) -> RunView:
    names = SCORE_VERDICTS if kind == "score" else COMPARE_VERDICTS
    key = "scores" if kind == "score" else "preferences"
    if kind == "score":
        outcomes = _reward_bins(rows)
    else:
        winners = Counter(str(row.get("winner")) for row in rows)
        outcomes = [Bin(label=w, count=winners[w]) for w in ("A", "B", "tie", "None")]
    verdicts = [*names.values(), *([RATED] if any(row.get("ratings") for row in rows) else []),
                *([NOT_APPLICABLE] if any(row.get("not_applicable") for row in rows) else [])]
    return RunView(kind=kind, source=source, rows=len(rows), verdicts=verdicts,
                   criteria=_criterion_counts(rows, key, verdicts, names), outcomes=outcomes, reasons=_reasons(rows),
                   browse=rows)


class SubsetStats(BaseModel):
    name: str
    n: int
    accuracy: float | None
    ci: tuple[float, float] | None
    kappa: float | None
    tie_rate: float | None
    position_consistency: float | None
    unscored_rate: float | None


class EvalView(BaseModel):
    """What the page of one eval report shows (one per profile or judge compared)."""

    title: str
    subsets: list[SubsetStats]
    labels: list[str]
    judged: list[str]
    confusion: list[list[int]]  # [label][judge verdict]
    browse: list[dict[str, Any]]


def _stats(name: str, s: dict[str, Any]) -> SubsetStats:
    ci = s.get("accuracy_ci")
    return SubsetStats(name=name, n=int(s.get("n", s.get("pairs", 0))), accuracy=s.get("accuracy"),
                       ci=(float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None,
                       kappa=s.get("kappa"), tie_rate=s.get("tie_rate"),
                       position_consistency=s.get("position_consistency"), unscored_rate=s.get("unscored_rate"))


def eval_pairs(report: dict[str, Any], source: Path) -> list[dict[str, Any]]:
    """The pairs' records of the eval report `report` read from `source`: its companion file (`pairs_file`,
    only beside the report), or the `pairs` it lists (reports written before the records moved to their
    own file); none when it has neither."""
    named = companion_file(source, report.get("pairs_file"))
    if named is not None and named.is_file():
        return [record.obj for record in json_records(named)]
    return [p for p in report.get("pairs", []) if isinstance(p, dict)]


def eval_view(report: dict[str, Any], pairs: list[dict[str, Any]]) -> EvalView:
    labels, judged = ["A", "B", "tie"], ["A", "B", "tie", "None"]
    counted = report["overall"].get("confusion")
    if isinstance(counted, dict):  # the report's own counts, whether or not the pairs are at hand
        confusion = [[int((counted.get(a) or {}).get("unscored" if b == "None" else b, 0)) for b in judged] for a in labels]
    else:
        cells = Counter((str(p.get("label")), str(p.get("winner"))) for p in pairs)
        confusion = [[cells[(a, b)] for b in judged] for a in labels]
    subsets = [_stats(name, s) for name, s in (report.get("subsets") or {}).items()]
    title = " · ".join(str(report[k]) for k in ("judge", "profile", "rubric") if report.get(k))
    return EvalView(title=title or "eval", subsets=[*subsets, _stats("overall", report["overall"])], labels=labels,
                    judged=judged, confusion=confusion, browse=pairs)


def read_eval_reports(path: Path) -> list[dict[str, Any]]:
    """The eval report(s) in a file `judgekit eval -o` wrote: one report, or several compared."""
    data = load_json(path)
    if isinstance(data, dict) and isinstance(data.get("overall"), dict):
        return [data]
    # Several profiles compared: {"profiles": {NAME: report}}.
    profiles = data.get("profiles") if isinstance(data, dict) else None
    found = [{**r, "profile": r.get("profile", name)} for name, r in (profiles or {}).items()
             if isinstance(r, dict) and isinstance(r.get("overall"), dict)]
    if not found:
        raise InputError("not an eval report (no 'overall' statistics)", file=str(path), field="overall")
    return found


def _embedded(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no '</script>' can end it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _eval_view(report: dict[str, Any], source: Path) -> EvalView:
    pairs = redact_tree(eval_pairs(report, source))
    try:
        return eval_view(report, pairs)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a field of another shape than eval writes
        raise InputError(f"not an eval report this judgekit reads ({type(exc).__name__}: {exc})", file=str(source),
                         field="overall") from None


def render_report(source: Path) -> str:
    """The HTML page of a run's output rows (.jsonl) or an eval report (.json)."""
    if source.suffix == ".json":
        views = [_eval_view(r, source) for r in redact_tree(read_eval_reports(source))]
        return render("report/eval.html.j2", source=source.name, views=views,
                      data=_embedded([v.browse for v in views]))
    kind, rows = read_rows(source)
    view = run_view(kind, redact_tree(rows), source.name)
    return render("report/run.html.j2", view=view, data=_embedded(view.browse))


def companions(source: Path) -> list[Path]:
    """The files beside an eval report that its page reads (each report's `pairs_file`); none for a run's rows."""
    if source.suffix != ".json":
        return []
    named = (companion_file(source, r.get("pairs_file")) for r in redact_tree(read_eval_reports(source)))
    return [path for path in named if path is not None]


def write_report(source: Path, output: Path) -> None:
    """The page of `source` into `output`, which is never a file the page is made from: `source` or an eval
    report's companion pairs file (the same path, a symlink or a hard link to it)."""
    for read in (source, *companions(source)):
        refuse_input_as_output(read, output)
    page = render_report(source) + "\n"
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise cannot_write(exc, output) from None
