"""`judgekit report`: the page renders in headless Chromium (a screenshot is taken) and the counts
it shows, after its script has run, equal the data's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import run_cli, write_jsonl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
needs_browser = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("JUDGEKIT_REQUIRE_BROWSER"),
                                   reason="no Chromium on this machine")

SCORE_ROWS = [
    {"id": "r0", "reward": 1.0, "coverage": 1.0, "scores": {"a": 1, "b": 1}, "unscored": {},
     "explanations": {"a": "clear", "b": "right"}},
    {"id": "r1", "reward": 0.4, "coverage": 1.0, "scores": {"a": 1, "b": 0}, "unscored": {}},
    {"id": "r2", "reward": None, "coverage": 0.6, "scores": {"a": 1, "b": None}, "unscored": {"b": "timed out (gave up after 4 attempts)"}},
    {"id": "r3", "reward": None, "coverage": 0.0, "scores": {"a": None, "b": None},
     "unscored": {"a": "timed out (gave up after 4 attempts)", "b": "<script>alert(1)</script>"}},
]
COMPARE_ROWS = [
    {"id": "p0", "winner": "A", "margin": 1.0, "preferences": {"a": 1, "b": 1}, "inconsistent": []},
    {"id": "p1", "winner": "tie", "margin": 0.0, "preferences": {"a": 0, "b": 0}, "inconsistent": ["a"]},
    {"id": "p2", "winner": "B", "margin": -1.0, "preferences": {"a": -1, "b": None}, "inconsistent": [], "unscored": {"b": "no answer"}},
]
PAIRS = [{"id": f"q{i}", "subset": s, "label": lab, "winner": w, "margin": 0.0, "preferences": {}, "inconsistent": inc}
         for i, (s, lab, w, inc) in enumerate([("natural", "A", "A", []), ("natural", "B", "A", ["a"]), ("natural", "A", None, []),
                                               ("adversarial", "B", "B", []), ("adversarial", "A", "tie", ["a", "b"])])]
STATS = {"n": 5, "accuracy": 0.4, "accuracy_ci": [0.0, 0.8], "accuracy_no_ties": 0.6667, "kappa": 0.1667,
         "tie_rate": 0.2, "position_consistency": 0.75, "unscored_rate": 0.2}
REPORT = {"overall": STATS, "subsets": {"natural": {**STATS, "n": 3}, "adversarial": {**STATS, "n": 2}},
          "judge": "openai:m", "rubric": "two", "calls": 20, "tokens": {}, "cost_usd": None, "pairs": PAIRS}


def _render(tmp_path: Path, source: Path, filters: str = "") -> str:
    """The DOM after the page's script ran (with `filters` in the address), and a screenshot beside it."""
    page = tmp_path / "report.html"
    proc = run_cli("report", str(source), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    assert "http://" not in page.read_text() and "https://" not in page.read_text()  # nothing to fetch
    flags = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"]
    shot = subprocess.run([*flags, f"--screenshot={tmp_path / 'shot.png'}", page.as_uri()], capture_output=True, timeout=120)
    assert (tmp_path / "shot.png").stat().st_size > 10_000, shot.stderr[-2000:]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri() + filters], capture_output=True, text=True, timeout=120)
    assert "</html>" in dom.stdout, dom.stderr[-2000:]
    return dom.stdout


def _cells(dom: str, attr: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(rf'{attr}="([^"]+)">(\d+)<', dom)}


def _criterion_cells(dom: str, cid: str) -> dict[str, int]:
    row = re.search(rf'<tr data-criterion="{cid}">(.*?)</tr>', dom, re.S)
    assert row is not None
    return _cells(row.group(1), "data-verdict")


@needs_browser
def test_a_score_run_page_shows_the_counts_of_its_rows(tmp_path):
    dom = _render(tmp_path, write_jsonl(tmp_path / "run.jsonl", SCORE_ROWS))
    for cid in ("a", "b"):
        names = Counter({1: "MET", 0: "UNMET", None: "unscored"}[r["scores"][cid]] for r in SCORE_ROWS)
        assert _criterion_cells(dom, cid) == {v: names[v] for v in ("MET", "UNMET", "unscored")}
    outcomes = _cells(dom, "data-outcome")
    assert outcomes == {**{f"{i / 10:.1f}–{(i + 1) / 10:.1f}": 0 for i in range(10)}, "0.4–0.5": 1, "0.9–1.0": 1, "unscored": 2}
    assert len(re.findall(r'<tr class="row">', dom)) == len(SCORE_ROWS)  # the script laid out every row
    assert re.search(r'id="shown">4<', dom)
    assert "timed out (gave up after 4 attempts)" in dom and "<script>alert(1)</script>" not in dom  # escaped


@needs_browser
def test_the_rows_filter_by_criterion_and_verdict(tmp_path):
    dom = _render(tmp_path, write_jsonl(tmp_path / "run.jsonl", SCORE_ROWS), "#criterion=b&verdict=unscored")
    assert re.findall(r'<tr class="row"><td>(\w+)</td>', dom) == ["r2", "r3"]
    dom = _render(tmp_path, write_jsonl(tmp_path / "run.jsonl", COMPARE_ROWS), "#disagree=1")
    assert re.findall(r'<tr class="row"><td>(\w+)</td>', dom) == ["p1"]


@needs_browser
def test_a_compare_run_page_counts_preferences_and_inconsistency(tmp_path):
    dom = _render(tmp_path, write_jsonl(tmp_path / "run.jsonl", COMPARE_ROWS))
    assert _criterion_cells(dom, "a") == {"A": 1, "B": 1, "tie": 1, "unscored": 0, "inconsistent": 1}
    assert _criterion_cells(dom, "b") == {"A": 1, "B": 0, "tie": 1, "unscored": 1, "inconsistent": 0}
    assert _cells(dom, "data-outcome") == {"A": 1, "B": 1, "tie": 1, "unscored": 0}  # never "None"
    assert len(re.findall(r'<tr class="row">', dom)) == 3


@needs_browser
def test_an_eval_page_shows_the_confusion_matrix_and_accuracy_per_subset(tmp_path):
    source = tmp_path / "report.json"
    source.write_text(json.dumps(REPORT))
    dom = _render(tmp_path, source)
    confusion = {(m[0], m[1]): int(m[2]) for m in re.findall(r'data-label="(\w+)" data-judge="(\w+)">(\d+)<', dom)}
    expected = Counter((p["label"], str(p["winner"] or "unscored")) for p in PAIRS)
    assert confusion == {(a, b): expected[(a, b)] for a in ("A", "B", "tie") for b in ("A", "B", "tie", "unscored")}
    assert re.search(r'data-subset="natural">.*?data-stat="n">3<', dom, re.S)
    assert re.search(r'data-subset="overall">.*?data-stat="accuracy">40.0%<', dom, re.S)
    assert len(re.findall(r'class="ci"', dom)) == 3  # a CI bar per subset and overall
    assert len(re.findall(r'<tr class="pair">', dom)) == len(PAIRS)
    dom = _render(tmp_path, source, "#wrong=1&subset=natural")
    assert re.findall(r'<tr class="pair"><td>(\w+)</td>', dom) == ["q1", "q2"]  # judged A for B; unscored


def test_a_file_that_is_not_a_run_is_exit_2_naming_line_and_field(tmp_path):
    bad = write_jsonl(tmp_path / "run.jsonl", [SCORE_ROWS[0], {"id": "x", "reward": 1.0}])
    proc = run_cli("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert proc.returncode == 2 and "run.jsonl:2" in proc.stderr and "field 'scores'" in proc.stderr, proc.stderr
    not_eval = tmp_path / "r.json"
    not_eval.write_text("{}")
    proc = run_cli("report", str(not_eval))
    assert proc.returncode == 2 and "field 'overall'" in proc.stderr and "Traceback" not in proc.stderr


def test_several_profiles_compared_get_a_section_each(tmp_path):
    from judgekit.evaluation.html_report import render_report

    source = tmp_path / "report.json"
    source.write_text(json.dumps({"profiles": {"judgekit": REPORT, "yes-no": {**REPORT, "pairs": PAIRS[:2]}}}))
    page = render_report(source)
    assert page.count('<section class="view"') == 2 and "yes-no" in page


@needs_browser
def test_rated_and_not_applicable_criteria_get_columns_of_their_own(tmp_path):
    rows = [
        {"id": "s0", "reward": 0.83, "coverage": 1.0, "scores": {"clear": 0.75, "dose": None}, "unscored": {},
         "not_applicable": ["dose"], "ratings": {"clear": 4}},
        {"id": "s1", "reward": 1.0, "coverage": 1.0, "scores": {"clear": 1.0, "dose": 1}, "unscored": {}, "ratings": {"clear": 5}},
        {"id": "s2", "reward": None, "coverage": 0.5, "scores": {"clear": None, "dose": 0}, "unscored": {"clear": "no verdict"}},
    ]
    dom = _render(tmp_path, write_jsonl(tmp_path / "run.jsonl", rows), "#criterion=clear&verdict=rated")
    assert _criterion_cells(dom, "clear") == {"MET": 0, "UNMET": 0, "unscored": 1, "rated": 2, "not applicable": 0}
    assert _criterion_cells(dom, "dose") == {"MET": 1, "UNMET": 1, "unscored": 0, "rated": 0, "not applicable": 1}
    assert re.findall(r'<tr class="row"><td>(\w+)</td>', dom) == ["s0", "s1"]
    assert "clear: rated 4" in dom and "clear: rated 5" in dom


def test_an_eval_report_shows_the_pairs_of_its_companion_file(tmp_path):
    from judgekit.evaluation.html_report import render_report

    write_jsonl(tmp_path / "report.pairs.jsonl", PAIRS)
    source = tmp_path / "report.json"
    source.write_text(json.dumps({**{k: v for k, v in REPORT.items() if k != "pairs"}, "pairs_file": "report.pairs.jsonl"}))
    page = render_report(source)
    assert all(f'"id": "{p["id"]}"' in page for p in PAIRS)
