"""`judgekit report`: one self-contained HTML page for a run's output rows (score, compare or rank) or an
eval report (JSON). Inline CSS, SVG and script only: no network, and it works from a file URL.

The counts are computed here and rendered by the template (prompts/report/*.html.j2); the rows to
browse travel inside the page as JSON and a small script lays them out and filters them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from judgekit.data.outfile import cannot_write, refuse_input_as_output
from judgekit.data.reader import json_records, load_json
from judgekit.data.runrecord import read_record
from judgekit.errors import InputError
from judgekit.evaluation.report import companion_file
from judgekit.evaluation.run_diff import diff_runs
from judgekit.evaluation.run_page import FLAGGED, SAMPLE, SUMMARIES, TEXT_CAP, RunPage, build, reward_bins
from judgekit.judging.results import NOT_APPLICABLE, RATED
from judgekit.protocol.templates import render
from judgekit.secrets import redact_tree

Kind = Literal["score", "compare", "rank"]
SCORE_VERDICTS = ["MET", "UNMET", "unscored"]
COMPARE_VERDICTS = ["A", "B", "tie", "unscored"]


class CriterionCounts(BaseModel):
    id: str
    counts: dict[str, int]
    inconsistent: int = 0
    weight: float | None = None
    text: str | None = None

    @property
    def scored(self) -> int:
        return sum(n for verdict, n in self.counts.items() if verdict not in ("unscored", NOT_APPLICABLE))

    @property
    def pitfall(self) -> bool:
        return self.weight is not None and self.weight < 0


class Bin(BaseModel):
    label: str
    count: int


class RunView(BaseModel):
    """What the page of a score, compare or rank run shows."""

    kind: Kind
    source: str
    rows: int
    verdicts: list[str]
    criteria: list[CriterionCounts]
    outcomes: list[Bin]  # score: the reward histogram (and unscored); compare: winners; rank: the best response
    reasons: list[Bin]  # unscored reasons, most frequent first
    about: dict[str, Any]  # the run's judge, rubric, date, calls, tokens, cost, duration (from its record)
    bounds: dict[str, int]  # what the page holds: summaries, rows with their full text, flagged rows
    explained: bool
    texts: bool
    labelled: bool


_ABOUT_KEYS = ("recorded", "judge", "profile", "command", "rubric_name", "started", "input_path", "seconds", "calls",
               "cache_hits", "tokens", "cost_usd", "cost_note", "stopped")


def _about(record: dict[str, Any] | None) -> dict[str, Any]:
    """The run's metadata, every key the page reads present (None when the record does not say)."""
    about: dict[str, Any] = dict.fromkeys(_ABOUT_KEYS) | dict((record or {}).get("about") or {})
    totals = (record or {}).get("totals") or {}
    stats = totals.get("stats") or {}
    if totals:
        about.update(seconds=totals.get("seconds"), calls=stats.get("calls"), cache_hits=stats.get("cache_hits"),
                     tokens=(stats.get("prompt_tokens") or 0) + (stats.get("completion_tokens") or 0),
                     cost_usd=totals.get("cost_usd"), cost_note=totals.get("cost_note"), stopped=totals.get("stopped"))
    if record is not None:
        about.update(profile=record.get("profile"), command=record.get("command"), recorded=True)
    return about


def run_view(page: RunPage, source: str, record: dict[str, object] | None) -> RunView:
    about = _about(record)
    known = {c.get("id"): c for c in about.get("criteria") or [] if isinstance(c, dict)}
    verdicts = SCORE_VERDICTS if page.kind == "score" else COMPARE_VERDICTS if page.kind == "compare" else []
    seen = {v for c in page.counts.values() for v in c}
    verdicts = [*verdicts, *(v for v in (RATED, NOT_APPLICABLE) if v in seen)]
    criteria = [CriterionCounts(id=cid, counts={v: page.counts[cid][v] for v in verdicts}, inconsistent=page.inconsistent[cid],
                                weight=(known.get(cid) or {}).get("weight"), text=(known.get(cid) or {}).get("text"))
                for cid in page.criteria]
    if page.kind == "score":
        labels = [*reward_bins(), "unscored"]
    elif page.kind == "compare":
        labels = ["A", "B", "tie", "unscored"]
    else:
        labels = sorted(page.outcomes, key=lambda k: (k == "None", k))
    outcomes = [Bin(label="unscored" if label == "None" else label, count=page.outcomes[label]) for label in labels]
    bounds = {"summaries": len(page.summaries), "details": len(page.details), "sample": min(SAMPLE, page.rows),
              "flagged": page.flagged, "flagged_shown": page.flagged_shown, "flagged_cap": FLAGGED, "text_cap": TEXT_CAP}
    return RunView(kind=page.kind, source=source, rows=page.rows, verdicts=verdicts, criteria=criteria, outcomes=outcomes,
                   reasons=[Bin(label=r, count=n) for r, n in page.reasons.most_common(30)], about=about, bounds=bounds,
                   explained=page.explained, texts=page.texts, labelled=page.labelled)


def run_data(page: RunPage, view: RunView) -> dict[str, Any]:
    """What the page's script lays out: the rows' summaries and the full rows it has."""
    return {"kind": page.kind, "criteria": [c.model_dump(include={"id", "weight", "text"}) for c in view.criteria],
            "summaries": page.summaries, "details": {str(i): d for i, d in page.details.items()}}


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
    about: dict[str, Any]  # judge, profile, rubric, date, calls, tokens, cost, duration: what the report says


def _stats(name: str, s: dict[str, Any]) -> SubsetStats:
    ci = s.get("accuracy_ci")
    return SubsetStats(name=name, n=int(s.get("n", s.get("pairs", 0))), accuracy=s.get("accuracy"),
                       ci=(float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None,
                       kappa=s.get("kappa"), tie_rate=s.get("tie_rate"),
                       position_consistency=s.get("position_consistency"), unscored_rate=s.get("unscored_rate"))


def eval_pairs(report: dict[str, Any], source: Path) -> list[dict[str, Any]]:
    """The pairs' records of the eval report `report` read from `source`: its companion file (`pairs_file`,
    only beside the report), or the `pairs` it lists (reports written before the records moved to their
    own file); none when it has neither. Bounded as a run's page is: the first SUMMARIES pairs, with their
    texts and reasoning for the first SAMPLE and for up to FLAGGED of those the judge got wrong or whose
    two orders disagree."""
    named = companion_file(source, report.get("pairs_file"))
    found: Iterable[dict[str, Any]]
    if named is not None and named.is_file():
        found = (record.obj for record in json_records(named))
    else:
        found = (p for p in report.get("pairs", []) if isinstance(p, dict))
    kept, flagged = [], 0
    for index, pair in enumerate(islice(found, SUMMARIES)):
        wrong = str(pair.get("winner") or "unscored") != str(pair.get("label")) or bool(pair.get("inconsistent"))
        if index < SAMPLE or (wrong and flagged < FLAGGED):
            flagged += wrong and index >= SAMPLE
            kept.append(pair)
        else:
            kept.append({k: v for k, v in pair.items() if k not in _PAIR_TEXTS})
    return kept


_PAIR_TEXTS = ("prompt", "response_a", "response_b", "explanations")


def eval_view(report: dict[str, Any], pairs: Sequence[Mapping[str, object]]) -> EvalView:
    labels, judged = ["A", "B", "tie"], ["A", "B", "tie", "unscored"]
    counted = report["overall"].get("confusion")
    if isinstance(counted, dict):  # the report's own counts, whether or not the pairs are at hand
        confusion = [[int((counted.get(a) or {}).get(b, 0)) for b in judged] for a in labels]
    else:
        cells = Counter((str(p.get("label")), str(p.get("winner") or "unscored")) for p in pairs)
        confusion = [[cells[(a, b)] for b in judged] for a in labels]
    subsets = [_stats(name, s) for name, s in (report.get("subsets") or {}).items()]
    title = " · ".join(str(report[k]) for k in ("judge", "profile", "rubric") if report.get(k))
    tokens = report.get("tokens") if isinstance(report.get("tokens"), dict) else {}
    about = {"judge": report.get("judge"), "profile": report.get("profile"), "rubric": report.get("rubric"),
             "date": report.get("date"), "calls": report.get("calls"), "cost_usd": report.get("cost_usd"),
             "seconds": report.get("seconds"), "tokens": sum(v for v in tokens.values() if isinstance(v, int)) if tokens else None}
    return EvalView(title=title or "eval", subsets=[*subsets, _stats("overall", report["overall"])], labels=labels,
                    judged=judged, confusion=confusion, browse=pairs, about=about)


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


def _embedded(data: object) -> str:
    """JSON safe inside <script type="application/json">: no '</script>' can end it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _eval_view(report: dict[str, object], source: Path) -> EvalView:
    pairs = redact_tree(eval_pairs(report, source))
    try:
        return eval_view(report, pairs)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a field of another shape than eval writes
        raise InputError(f"not an eval report this judgekit reads ({type(exc).__name__}: {exc})", file=str(source),
                         field="overall") from None


JsonPage = Callable[[Path, dict[str, Any]], str]
JSON_PAGES: dict[str, JsonPage] = {}
"""The pages of other JSON reports, by the report's `kind` (a probe report's page is registered here)."""


def render_report(source: Path) -> str:
    """The HTML page of a run's output rows (.jsonl) or an eval report (.json)."""
    if source.suffix == ".json":
        data = load_json(source)
        if isinstance(data, dict) and str(data.get("kind")) in JSON_PAGES:
            return JSON_PAGES[str(data["kind"])](source, data)
        views = [_eval_view(r, source) for r in redact_tree(read_eval_reports(source))]
        return render("report/eval.html.j2", source=source.name, views=views, sample=SAMPLE, flagged=FLAGGED,
                      data=_embedded([v.browse for v in views]))
    record = redact_tree(read_record(source))
    page = build(source, record)
    view = run_view(page, source.name, record)
    return render("report/run.html.j2", view=view, data=_embedded(run_data(page, view)))


def _run_header(source: Path, record: dict[str, object] | None) -> dict[str, Any]:
    about = _about(record)
    return {"source": source.name, "judge": about["judge"], "profile": about["profile"], "rubric": about["rubric_name"],
            "date": about["started"]}


def render_diff(first: Path, second: Path) -> str:
    """The page of two runs on the same rows: where they differ, per criterion, with the texts."""
    records = [redact_tree(read_record(first)), redact_tree(read_record(second))]
    diff = diff_runs(first, second, records[0])
    criteria = [{"id": cid, "same": sum(n for (a, b), n in diff.changes[cid].items() if a == b),
                 "different": sum(n for (a, b), n in diff.changes[cid].items() if a != b),
                 "changes": [(f"{a} → {b}", n) for (a, b), n in diff.changes[cid].most_common() if a != b]}
                for cid in diff.criteria]
    return render("report/diff.html.j2", source=f"{first.name} vs {second.name}", diff=diff, criteria=criteria,
                  a=_run_header(first, records[0]), b=_run_header(second, records[1]), data=_embedded(diff.listed))


def companions(source: Path) -> list[Path]:
    """The files beside an eval report that its page reads (each report's `pairs_file`); none for a run's rows."""
    if source.suffix != ".json":
        return []
    named = (companion_file(source, r.get("pairs_file")) for r in redact_tree(read_eval_reports(source)))
    return [path for path in named if path is not None]


def write_report(source: Path, output: Path, other: Path | None = None) -> None:
    """The page of `source` (beside `other`: the two runs compared) into `output`, which is never a file the
    page is made from: `source`, `other` or an eval report's companion pairs file (the same path, a symlink or
    a hard link to it)."""
    for read in (source, *companions(source), *([other] if other else [])):
        refuse_input_as_output(read, output)
    page = (render_report(source) if other is None else render_diff(source, other)) + "\n"
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise cannot_write(exc, output) from None
