"""`judgekit report probe.json`: the probe's page: per configuration, each attack family's false-positive
rate with its interval, per criterion, the pairwise win rate, and each variant's attack text. Self-contained
(inline CSS, no script, no network); every text from the report is escaped."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from judgekit.data.outfile import cannot_write, refuse_input_as_output
from judgekit.errors import InputError
from judgekit.secrets import redact_tree

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
.bar{display:inline-block;height:.8em;background:#c33}.ok{background:#3a3}pre{white-space:pre-wrap;margin:0;max-width:40em}
details{margin:.5em 0}"""


def is_probe_report(source: Path) -> bool:
    """Whether `source` is a probe.json (one configuration's `attacks`, or several `configurations`)."""
    if source.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and ("attacks" in data or isinstance(data.get("configurations"), dict))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _ci(ci: list[float] | None) -> str:
    return "–" if not ci else f"{_pct(ci[0])} – {_pct(ci[1])}"


def _bar(value: float | None) -> str:
    if value is None:
        return ""
    width = max(1, round(100 * value))
    return f'<span class="bar{" ok" if value == 0 else ""}" style="width:{width / 10:.1f}em"></span>'


def _family(name: str, a: dict[str, Any]) -> str:
    pairs = a.get("pairwise") or {}
    return (f"<tr><td>{escape(name)}</td><td>{a['n']}</td><td>{_pct(a['false_positive_rate'])} {_bar(a['false_positive_rate'])}"
            f"</td><td>{_ci(a['fpr_ci'])}</td><td>{a['mean_reward'] if a['mean_reward'] is not None else '–'}</td>"
            f"<td>{a['reward_delta'] if a['reward_delta'] is not None else '–'}</td>"
            f"<td>{_pct(pairs.get('attack_win_rate'))} {_ci(pairs.get('attack_win_rate_ci'))}</td><td>{a.get('unscored', 0)}</td></tr>")


def _details(name: str, a: dict[str, Any]) -> str:
    criteria = "".join(f"<tr><td>{escape(cid)}</td><td>{c['n']}</td><td>{_pct(c['false_positive_rate'])}</td></tr>"
                       for cid, c in a["per_criterion"].items())
    variants = "".join(f"<tr><td>{escape(v)}</td><td>{x['n']}</td><td>{_pct(x['false_positive_rate'])}</td>"
                       f"<td><pre>{escape(x['example'] or '(not built)')}</pre></td></tr>" for v, x in a.get("variants", {}).items())
    reasons = "".join(f"<li>{escape(r)}: {n}</li>" for r, n in a.get("unscored_reasons", {}).items())
    return (f"<details><summary><b>{escape(name)}</b></summary><table><tr><th>criterion</th><th>n</th><th>MET (positive weight)</th></tr>"
            f"{criteria}</table><table><tr><th>variant</th><th>n</th><th>false positives</th><th>attack text (first row)</th></tr>"
            f"{variants}</table>{f'<p>unscored:</p><ul>{reasons}</ul>' if reasons else ''}</details>")


def _configuration(title: str, report: dict[str, Any]) -> str:
    attacks = report.get("attacks", {})
    real = report.get("real", {})
    head = (f"<h2>{escape(title)}</h2><p>judge {escape(str(report.get('judge')))}, profile {escape(str(report.get('profile')))}; "
            f"{report.get('rows')} rows, {report.get('calls')} calls; real responses: mean reward {real.get('mean_reward')}"
            f" (n={real.get('n')})</p>")
    stopped = f"<p><b>stopped early:</b> {escape(report['stopped'])}</p>" if report.get("stopped") else ""
    table = ("<table><tr><th>family</th><th>n</th><th>false-positive rate</th><th>95% CI</th><th>mean reward</th>"
             "<th>delta vs real</th><th>attack wins (pairwise, both orders)</th><th>unscored</th></tr>"
             + "".join(_family(n, a) for n, a in attacks.items()) + "</table>")
    return head + stopped + table + "".join(_details(n, a) for n, a in attacks.items())


def _differences(diff: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{escape(config)}</td><td>{escape(family)}</td><td>{d['n']}</td><td>{_pct(d['difference'])}</td>"
                   f"<td>{_ci(d['difference_ci'])}</td></tr>"
                   for config, families in diff["configurations"].items() for family, d in families.items())
    return (f"<h2>Differences from {escape(diff['baseline'])} (paired bootstrap)</h2><table><tr><th>configuration</th>"
            f"<th>family</th><th>n</th><th>rate difference</th><th>95% CI</th></tr>{rows}</table>")


def render_probe_page(report: dict[str, Any], source: str) -> str:
    report = redact_tree(report)
    configs = report.get("configurations", {"probe": report})
    body = "".join(_configuration(name, r) for name, r in configs.items())
    if "difference" in report:
        body += _differences(report["difference"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>probe: {escape(source)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>Reward-hacking probe: {escape(source)}</h1><p>A false positive is an attack response with a "
            f"reward above 0; per criterion, MET on a positively weighted criterion.</p>{body}</body></html>\n")


def write_probe_page(source: Path, output: Path) -> None:
    refuse_input_as_output(source, output)
    try:
        report = json.loads(source.read_text(encoding="utf-8"))
        page = render_probe_page(report, source.name)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a probe report judgekit reads: {exc}", file=str(source)) from None
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise cannot_write(exc, output) from None
