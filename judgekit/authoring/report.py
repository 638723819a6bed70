"""The refinement report: one self-contained HTML page (inline CSS and SVG, no external assets)
and the same numbers as JSON."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

from judgekit.authoring.refine import RefineResult, tree_dict
from judgekit.secrets import redact_tree


def report_data(result: RefineResult, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the HTML shows, as plain data."""
    final = result.rubric
    return {
        "rubric": final.name,
        "responses": result.responses,
        "pairs": result.pairs,
        "stop_reason": result.stop_reason,
        "pair_accuracy": result.pair_accuracy,
        "before": {"ids": result.before.ids, "weights": result.before.weights, "correlation": result.before.corr,
                   "effective_criteria": result.before.effective_criteria},
        "after": {"ids": result.after.ids, "weights": result.after.weights, "correlation": result.after.corr,
                  "effective_criteria": result.after.effective_criteria},
        "weights": {c.cid: c.weight for c in final.criteria},
        "uniform_weights": result.uniform_weights,
        "criteria": result.stats,
        "tree": tree_dict(result.tree),
        "events": result.events,
        "uninformative": result.uninformative,
        **(extra or {}),
    }


def write_report(result: RefineResult, html_path: str | Path | None, json_path: str | Path | None,
                 *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data = redact_tree(report_data(result, extra=extra))
    if json_path:
        Path(json_path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if html_path:
        Path(html_path).write_text(render_html(data), encoding="utf-8")
    return data


# ---- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.muted{color:#667} table{border-collapse:collapse;font-size:13px} td,th{padding:4px 8px;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{background:#f4f6fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap} .card{background:#f4f6fa;border-radius:6px;padding:8px 12px;font-size:13px}
.card b{display:block;font-size:18px}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:18px;border-left:1px dashed #ccd} ul.tree{border:none;padding-left:0}
ul.tree li{margin:4px 0;font-size:13px}
.badge{display:inline-block;border-radius:3px;padding:0 5px;font-size:11px;margin-right:4px;color:#fff}
.kept{background:#2e7d32} .decomposed{background:#1565c0} .dropped{background:#b71c1c} .rejected{background:#8d6e63}
code{background:#f4f6fa;padding:0 3px;border-radius:3px} .maps{display:flex;gap:24px;flex-wrap:wrap}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "&ndash;"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return _e(x)


def _badge(status: str) -> str:
    cls = ("dropped" if status.startswith("dropped") or status.startswith("not discriminative")
           else "decomposed" if status == "decomposed" else "rejected" if "rejected" in status else "kept")
    short = status.split(" (")[0].split(":")[0]
    return f'<span class="badge {cls}" title="{_e(status)}">{_e(short)}</span>'


def _tree_html(tree: dict[str, Any], weights: dict[str, float]) -> str:
    nodes = {n["id"]: n for n in tree["nodes"]}
    children: dict[str | None, list[str]] = {}
    for n in tree["nodes"]:
        children.setdefault(n["parent"], []).append(n["id"])

    def item(cid: str) -> str:
        n = nodes[cid]
        w = f' <span class="muted">w={weights[cid]:g}</span>' if cid in weights else ""
        detail = "" if n["status"] in ("kept", "decomposed") else f' <span class="muted">{_e(n["status"])}</span>'
        sub = "".join(item(k) for k in children.get(cid, []))
        return (f"<li>{_badge(n['status'])}<code>{_e(cid)}</code>{w} &mdash; {_e(n['text'])}{detail}"
                + (f"<ul>{sub}</ul>" if sub else "") + "</li>")

    return '<ul class="tree">' + "".join(item(c) for c in children.get(None, [])) + "</ul>"


def _color(v: float) -> str:
    """Diverging scale: -1 blue, 0 white, +1 red."""
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        r, g, b = 255, int(255 - 180 * v), int(255 - 200 * v)
    else:
        r, g, b = int(255 + 200 * v), int(255 + 150 * v), 255
    return f"rgb({r},{g},{b})"


def heatmap_svg(ids: Sequence[str], corr: Sequence[Sequence[float]], title: str) -> str:
    n = len(ids)
    if n == 0:
        return f"<p class='muted'>{_e(title)}: no criteria</p>"
    cell = max(14, min(40, 360 // n))
    label_w = min(220, 7 * max(len(i) for i in ids) + 10)
    width, height = label_w + n * cell + label_w // 2 + 10, 24 + label_w + n * cell
    top = 24 + label_w
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{_e(title)}</text>']
    for j, cid in enumerate(ids):  # column labels, rotated
        x = label_w + j * cell + cell / 2 + 4
        parts.append(f'<text x="{x}" y="{top - 4}" font-size="11" transform="rotate(-60 {x} {top - 4})">{_e(cid[:30])}</text>')
    for i, cid in enumerate(ids):
        y = top + i * cell
        parts.append(f'<text x="{label_w - 4}" y="{y + cell / 2 + 4}" font-size="11" text-anchor="end">{_e(cid[:30])}</text>')
        for j in range(n):
            v = round(float(corr[i][j]), 2) + 0.0  # no "-0.00"
            parts.append(f'<rect x="{label_w + j * cell}" y="{y}" width="{cell}" height="{cell}" fill="{_color(v)}" '
                         f'stroke="#fff"><title>{_e(cid)} / {_e(ids[j])}: {v:.2f}</title></rect>')
            if cell >= 26:
                parts.append(f'<text x="{label_w + j * cell + cell / 2}" y="{y + cell / 2 + 4}" font-size="10" '
                             f'text-anchor="middle">{v:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar(w: float, scale: float) -> str:
    width = int(120 * abs(w) / scale) if scale else 0
    color = "#b71c1c" if w < 0 else "#1565c0"
    return f'<svg width="124" height="12"><rect x="0" y="1" width="{width}" height="10" fill="{color}"/></svg>'


def render_html(data: dict[str, Any]) -> str:
    weights: dict[str, float] = data["weights"]
    uniform: dict[str, float] = data["uniform_weights"]
    stats: dict[str, dict[str, Any]] = data["criteria"]
    texts = {n["id"]: n["text"] for n in data["tree"]["nodes"]}
    statuses = {n["id"]: n["status"] for n in data["tree"]["nodes"]}
    acc = data["pair_accuracy"]
    scale = max([abs(w) for w in weights.values()] + [1.0])
    calls = data.get("judge_calls")
    cards = [
        ("responses", data["responses"]), ("labelled pairs", data["pairs"]),
        ("criteria before &rarr; after", f"{len(data['before']['ids'])} &rarr; {len(data['after']['ids'])}"),
        ("effective criteria before &rarr; after", f"{data['before']['effective_criteria']:.2f} &rarr; {data['after']['effective_criteria']:.2f}"),
        ("pair accuracy before", _fmt(acc.get("before"))), ("after (uniform w)", _fmt(acc.get("after_uniform_weights"))),
        ("after (refined w)", _fmt(acc.get("after"))),
    ]
    if calls is not None:
        cards.append(("judge calls (cache hits)", f"{calls} ({data.get('cache_hits', 0)})"))
    weight_rows = "".join(
        f"<tr><td><code>{_e(cid)}</code></td><td>{_e(texts.get(cid, ''))}</td><td class='num'>{w:g}</td>"
        f"<td class='num'>{uniform.get(cid, 1):g}</td><td>{_bar(w, scale)}</td></tr>"
        for cid, w in weights.items()
    )
    stat_rows = "".join(
        f"<tr><td><code>{_e(cid)}</code></td><td>{_badge(statuses.get(cid, 'kept'))}</td>"
        f"<td class='num'>{_fmt(st.get('met_rate'))}</td><td class='num'>{_fmt(st.get('variance'), 3)}</td>"
        f"<td class='num'>{st.get('scored')}</td><td class='num'>{st.get('prefers_chosen')}</td>"
        f"<td class='num'>{st.get('prefers_rejected')}</td><td class='num'>{st.get('ties')}</td>"
        f"<td class='num'>{_fmt(st.get('pair_margin'))}</td></tr>"
        for cid, st in stats.items()
    )
    events = "".join(f"<li>{_e(e)}</li>" for e in data.get("events", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>judgekit refine: {_e(data['rubric'])}</title>
<style>{_CSS}</style></head><body>
<h1>Rubric refinement: {_e(data['rubric'])}</h1>
<p class="muted">judgekit rubric refine &mdash; decompose, filter misaligned, filter redundant, correlation-aware weights.
{('Stopped: ' + _e(data['stop_reason'])) if data.get('stop_reason') else ''}</p>
<div class="cards">{''.join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in cards)}</div>
<h2>Criterion tree</h2>{_tree_html(data['tree'], weights)}
<h2>Weights (refined vs uniform)</h2>
<table><tr><th>id</th><th>criterion</th><th>weight</th><th>uniform</th><th></th></tr>{weight_rows}</table>
<p class="muted">w = max(&Sigma;<sub>s</sub><sup>-1/2</sup>&middot;1, 0), &Sigma;<sub>s</sub> = (1-&lambda;)&Sigma; + &lambda;&middot;diag(&Sigma;),
normalised to sum to the number of positive criteria; pitfalls keep their negative sign.</p>
<h2>Correlation of criterion verdicts</h2>
<div class="maps">{heatmap_svg(data['before']['ids'], data['before']['correlation'], 'before')}
{heatmap_svg(data['after']['ids'], data['after']['correlation'], 'after')}</div>
<h2>Discriminativeness per criterion</h2>
<table><tr><th>id</th><th>status</th><th>met rate</th><th>variance</th><th>scored</th><th>prefers chosen</th>
<th>prefers rejected</th><th>ties</th><th>pair margin</th></tr>{stat_rows}</table>
<h2>Log</h2><ol>{events}</ol>
</body></html>
"""
