"""The refinement report: one self-contained HTML page (inline CSS and SVG, no external assets)
and the same numbers as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from judgekit.authoring.refine import RefineResult, tree_dict
from judgekit.protocol.templates import render
from judgekit.secrets import redact_tree


def report_data(result: RefineResult, *, extra: Mapping[str, object] | None = None) -> dict[str, Any]:
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
        "evidence": result.evidence,
        "heldout": result.heldout,
        **(extra or {}),
    }


def write_report(result: RefineResult, html_path: str | Path | None, json_path: str | Path | None,
                 *, extra: Mapping[str, object] | None = None) -> dict[str, Any]:
    data = redact_tree(report_data(result, extra=extra))
    if json_path:
        Path(json_path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if html_path:
        Path(html_path).write_text(render_html(data), encoding="utf-8")
    return data


# ---- HTML: prompts/report/refine.html.j2 fed with the numbers laid out -----------------------


def render_html(data: dict[str, Any]) -> str:
    weights: dict[str, float] = data["weights"]
    uniform: dict[str, float] = data["uniform_weights"]
    nodes: list[dict[str, Any]] = data["tree"]["nodes"]
    texts = {n["id"]: n["text"] for n in nodes}
    statuses = {n["id"]: n["status"] for n in nodes}
    scale = max([abs(w) for w in weights.values()] + [1.0])
    weight_rows = [
        {"id": cid, "text": texts.get(cid, ""), "weight": w, "uniform": uniform.get(cid, 1),
         "bar_width": int(120 * abs(w) / scale) if scale else 0, "bar_color": "#b71c1c" if w < 0 else "#1565c0"}
        for cid, w in weights.items()
    ]
    stat_rows = [{"id": cid, "badge": _badge(statuses.get(cid, "kept")), "stats": st}
                 for cid, st in data["criteria"].items()]
    heatmaps = [heatmap(data[when]["ids"], data[when]["correlation"], when) for when in ("before", "after")]
    return render("report/refine.html.j2", data=data, tree=_tree(nodes, weights), weight_rows=weight_rows,
                  stat_rows=stat_rows, heatmaps=heatmaps) + "\n"


def _badge(status: str) -> dict[str, str]:
    cls = ("dropped" if status.startswith("dropped") or status.startswith("not discriminative")
           else "decomposed" if status == "decomposed" else "rejected" if "rejected" in status else "kept")
    return {"cls": cls, "short": status.split(" (")[0].split(":")[0], "title": status}


def _tree(nodes: list[dict[str, Any]], weights: dict[str, float]) -> list[dict[str, Any]]:
    """The criterion tree, roots first, each node with its children."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for n in nodes:
        children.setdefault(n["parent"], []).append(n)

    def node(n: dict[str, Any]) -> dict[str, Any]:
        return {"id": n["id"], "text": n["text"], "badge": _badge(n["status"]), "weight": weights.get(n["id"]),
                "detail": "" if n["status"] in ("kept", "decomposed") else n["status"],
                "children": [node(k) for k in children.get(n["id"], [])]}

    return [node(n) for n in children.get(None, [])]


def _color(v: float) -> str:
    """Diverging scale: -1 blue, 0 white, +1 red."""
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        r, g, b = 255, int(255 - 180 * v), int(255 - 200 * v)
    else:
        r, g, b = int(255 + 200 * v), int(255 + 150 * v), 255
    return f"rgb({r},{g},{b})"


def heatmap(ids: Sequence[str], corr: Sequence[Sequence[float]], title: str) -> dict[str, Any]:
    """The geometry of a correlation heatmap: labels, and one coloured cell per pair of criteria."""
    n = len(ids)
    if n == 0:
        return {"ids": [], "title": title}
    cell = max(14, min(40, 360 // n))
    label_w = min(220, 7 * max(len(i) for i in ids) + 10)
    top = 24 + label_w
    columns = [{"x": label_w + j * cell + cell / 2 + 4, "y": top - 4, "label": cid[:30]} for j, cid in enumerate(ids)]
    rows = []
    for i, cid in enumerate(ids):
        y = top + i * cell
        cells = []
        for j in range(n):
            v = round(float(corr[i][j]), 2) + 0.0  # no "-0.00"
            text_at = (label_w + j * cell + cell / 2, y + cell / 2 + 4) if cell >= 26 else (None, None)
            cells.append({"x": label_w + j * cell, "y": y, "fill": _color(v), "title": f"{cid} / {ids[j]}: {v:.2f}",
                          "value": f"{v:.2f}", "text_x": text_at[0], "text_y": text_at[1]})
        rows.append({"x": label_w - 4, "y": y + cell / 2 + 4, "label": cid[:30], "cells": cells})
    return {"ids": list(ids), "title": title, "cell": cell, "width": label_w + n * cell + label_w // 2 + 10,
            "height": 24 + label_w + n * cell, "columns": columns, "rows": rows}
