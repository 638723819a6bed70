"""The tables `judgekit eval` prints (rich, on stderr) and the Markdown table for the docs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _acc(m: dict[str, Any]) -> str:
    ci = m.get("accuracy_ci")
    return pct(m["accuracy"]) + (f" [{pct(ci[0])}, {pct(ci[1])}]" if ci else "")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _calls(m: Mapping[str, object]) -> str:
    return f"{m['calls']}" + (f" (+{m['cache_hits']} cached)" if m.get("cache_hits") else "")


def report_table(report: dict[str, Any]) -> Table:
    table = Table(title=Text(f"judgekit eval: {report.get('format')} ({report.get('judge')})"),
                  caption="acc: agreement with the human label [95% bootstrap CI]; no-ties: over pairs both decided; "
                          "pos-cons: criterion verdicts that hold in both orders")
    table.add_column("subset", no_wrap=True)
    for col in ("n", "acc [95% CI]", "no-ties", "kappa", "ties", "pos-cons", "unscored", "calls", "tokens"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, m in [*report["subsets"].items(), ("overall", {**report["overall"], **_usage(report)})]:
        table.add_row(Text(name), str(m["n"]), _acc(m), pct(m["accuracy_no_ties"]), _num(m["kappa"]), pct(m["tie_rate"]),
                      pct(m["position_consistency"]), pct(m["unscored_rate"]), _calls(m), str(m["tokens"]["total"]))
    return table


def _usage(report: Mapping[str, object]) -> dict[str, Any]:
    return {"calls": report["calls"], "cache_hits": report["cache_hits"], "tokens": report["tokens"]}


def profile_table(reports: list[dict[str, Any]], difference: dict[str, Any] | None = None) -> Table:
    """One row per profile (same judge model, same pairs): `judgekit eval --profile a,b,...`."""
    table = Table(title="judgekit eval: profiles compared on the same pairs",
                  caption="unsc-crit: criteria left unscored (answers that did not parse after re-asks); "
                          "vs first: accuracy difference from the first profile [95% paired bootstrap CI]")
    table.add_column("profile", no_wrap=True)
    for col in ("n", "acc [95% CI]", "vs first", "kappa", "ties", "pos-cons", "unsc-crit", "calls", "tokens"):
        table.add_column(col, justify="right", no_wrap=True)
    gains = (difference or {}).get("profiles", {})
    for rep in reports:
        m, gain = rep["overall"], gains.get(rep.get("profile"))
        vs = "-" if gain is None else _signed(gain)
        table.add_row(Text(str(rep.get("profile"))), str(m["n"]), _acc(m), vs, _num(m["kappa"]), pct(m["tie_rate"]),
                      pct(m["position_consistency"]), pct(m["unscored_criteria"]), _calls(rep), str(rep["tokens"]["total"]))
    return table


def _signed(gain: dict[str, Any]) -> str:
    ci = gain["accuracy_ci"]
    value = "-" if gain["accuracy"] is None else f"{100 * gain['accuracy']:+.0f}%"
    return value + (f" [{100 * ci[0]:+.0f}%, {100 * ci[1]:+.0f}%]" if ci else "")


def markdown_table(reports: list[dict[str, Any]]) -> str:
    """The subsets of several reports as one Markdown table (for docs/benchmarks.md)."""
    lines = ["| data | subset | pairs | accuracy [95% CI] | kappa | tie rate | position-consistent | calls | tokens |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for rep in reports:
        for name, m in rep["subsets"].items():
            lines.append(f"| {rep.get('format')} | {name} | {m['n']} | {_acc(m)} | {_num(m['kappa'])} | {pct(m['tie_rate'])} | "
                         f"{pct(m['position_consistency'])} | {_calls(m)} | {m['tokens']['total']} |")
    return "\n".join(lines)


def criteria_table(report: dict[str, Any]) -> Table:
    """`eval --format labels`: the judge's verdicts per criterion against the human labels."""
    overall = report["overall"]
    ci = overall["macro_f1_ci"]
    table = Table(title=Text(f"judgekit eval: per-criterion agreement with the labels ({report.get('judge')})"),
                  caption=f"macro-F1 {_num(overall['macro_f1'])}" + (f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else "")
                          + f" over {overall['n']} rows; [95% bootstrap CI]; MET is the positive class")
    table.add_column("criterion", no_wrap=True)
    for col in ("n", "precision", "recall", "F1", "kappa", "unscored"):
        table.add_column(col, justify="right", no_wrap=True)
    for cid, m in report["criteria"].items():
        table.add_row(Text(cid), str(m["n"]), *(_with_ci(m, k) for k in ("precision", "recall", "f1", "kappa")),
                      pct(m["unscored_rate"]))
    return table


def _with_ci(m: dict[str, Any], key: str) -> str:
    ci = m.get(f"{key}_ci")
    return _num(m[key]) + (f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else "")
