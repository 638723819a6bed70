"""The page of a run shows what was judged: the texts from the run's input, the judge's reasoning, the
run's judge, rubric, date, calls and tokens; filters pick the right rows; the page stays bounded."""

from __future__ import annotations

import json
import re

from judgekit.evaluation.run_page import FLAGGED, SAMPLE, SUMMARIES
from judgekit.testing import Script
from tests.evaluation.test_html_report import _render, needs_browser
from tests.helpers import run_cli, write_jsonl

RUBRIC = ("name: shown\ncriteria:\n  - id: says_yes\n    text: Says yes.\n  - id: short\n    text: Is short.\n    weight: 2\n"
          "  - id: rude\n    text: Is rude.\n    weight: -1\n")


def _rows_shown(dom: str) -> list[str]:
    return re.findall(r'<tr class="row"><td>(\w+)</td>', dom)


@needs_browser
def test_a_score_page_shows_prompt_response_reasoning_and_the_runs_metadata(judge_server, tmp_path):
    judge_server.state.script = Script(met=lambda cid, r: "yes" in r, reasoning="the answer <b>says</b> so")
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": f"What is {i} squared?",
                                                "response": "yes, " + str(i * i) if i % 2 else "no idea"} for i in range(6)])
    (tmp_path / "r.yaml").write_text(RUBRIC)
    out = tmp_path / "out.jsonl"
    proc = run_cli("score", str(data), "--rubric", str(tmp_path / "r.yaml"), "--judge", "openai:m", "--base-url",
                   judge_server.base_url, "-o", str(out), "--explain")
    assert proc.returncode == 0, proc.stderr
    dom = _render(tmp_path, out)
    assert 'data-about="judge">openai:m<' in dom and 'data-about="rubric">shown<' in dom
    assert re.search(r'data-about="date">\d{4}-\d\d-\d\dT', dom) and 'data-about="calls">18<' in dom
    assert re.search(r'data-about="tokens">\d+<', dom) and re.search(r'data-about="duration">[\d.]+ s<', dom)
    assert "What is 5 squared?" in dom and "yes, 25" in dom  # the judged texts, from the run's input
    assert "the answer &lt;b&gt;says&lt;/b&gt; so" in dom  # the reasoning, escaped
    assert re.search(r'<tr data-criterion="rude" class="pitfall">', dom)  # a pitfall is drawn as a flaw
    assert re.search(r'class="flaw">rude: MET<', dom)
    assert "0.6666" not in dom  # rewards rounded
    dom = _render(tmp_path, out, "#min=0.5")
    assert _rows_shown(dom) == ["r1", "r3", "r5"]
    dom = _render(tmp_path, out, "#max=0.4&sort=-outcome")
    assert _rows_shown(dom) == ["r0", "r2", "r4"]


@needs_browser
def test_a_compare_page_shows_both_responses_both_orders_and_the_label(judge_server, tmp_path):
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A" if "good" in a else "B", reasoning="scripted why")
    pairs = [{"id": f"p{i}", "prompt": f"Q{i}", "response_a": "good answer" if i % 2 else "bad answer",
              "response_b": "plain answer", "label": "A"} for i in range(4)]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    (tmp_path / "r.yaml").write_text(RUBRIC)
    out = tmp_path / "cmp.jsonl"
    proc = run_cli("compare", str(data), "--rubric", str(tmp_path / "r.yaml"), "--judge", "openai:m", "--base-url",
                   judge_server.base_url, "-o", str(out), "--explain")
    assert proc.returncode == 0, proc.stderr
    dom = _render(tmp_path, out, "#wrong=1")
    assert _rows_shown(dom) == ["p0", "p2"]  # the judge picked B where the label says A
    assert "good answer" in dom and "plain answer" in dom and "order (B, A)" in dom
    assert len(re.findall(r"\(the judge said (?:B|tie)\)", dom)) == 2 and "scripted why" in dom


def test_the_page_of_a_large_run_is_bounded_and_says_what_it_holds(tmp_path):
    from judgekit.evaluation.html_report import render_report

    n = SUMMARIES + 5000
    rows = [{"id": f"r{i}", "reward": None if i % 10 == 0 else 0.5, "coverage": 1.0, "scores": {"a": None if i % 10 == 0 else 1},
             "unscored": {"a": "timed out"} if i % 10 == 0 else {}} for i in range(n)]
    page = render_report(write_jsonl(tmp_path / "big.jsonl", rows))
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1))
    assert len(data["summaries"]) == SUMMARIES and len(data["details"]) <= SAMPLE + FLAGGED
    assert "Counts cover all 25000 rows" in page and f"of the {n // 10} rows that failed" in page
    assert len(page) < 4_000_000


@needs_browser
def test_an_eval_page_shows_each_pairs_texts_and_both_orders_reasoning(judge_server, tmp_path):
    from tests.evaluation.test_eval import RUBRIC_TEXT, needs_data
    from tests.helpers import SHARED_DATA

    if not SHARED_DATA.is_dir():
        needs_data(lambda: None)
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A", reasoning="the first one reads better")
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    report = tmp_path / "report.json"
    proc = run_cli("eval", str(SHARED_DATA / "llmbar" / "natural.json"), "--format", "llmbar", "--rubric", str(tmp_path / "r.yaml"),
                   "--judge", "openai:scripted", "--base-url", judge_server.base_url, "--limit", "2", "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    records = json.loads((SHARED_DATA / "llmbar" / "natural.json").read_text())
    dom = _render(tmp_path, report)
    escaped = [r["output_1"][:40].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for r in records]
    assert sum(text in dom for text in escaped) >= 2  # both pairs' response A (--limit 2)
    assert 'data-about="judge">openai:scripted<' in dom and re.search(r'data-about="date">\d{4}-', dom)
    assert "order (B, A)" in dom and "the first one reads better" in dom and "orders disagree" in dom


@needs_browser
def test_two_runs_on_the_same_rows_show_where_they_differ_per_criterion(judge_server, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": f"Prompt {i}", "response": f"answer {i}"} for i in range(4)])
    (tmp_path / "r.yaml").write_text(RUBRIC)
    outs = []
    for name, met in (("a", lambda cid, r: True), ("b", lambda cid, r: cid != "short" or r.endswith(("0", "1")))):
        judge_server.state.script = Script(met=met, reasoning=f"run {name} thinks so")
        outs.append(tmp_path / f"{name}.jsonl")
        proc = run_cli("score", str(data), "--rubric", str(tmp_path / "r.yaml"), "--judge", "openai:m", "--base-url",
                       judge_server.base_url, "-o", str(outs[-1]), "--explain", "--no-cache")
        assert proc.returncode == 0, proc.stderr
    page = tmp_path / "diff.html"
    proc = run_cli("report", str(outs[0]), str(outs[1]), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    dom = _render_page(tmp_path, page)
    assert re.search(r'id="differing">2<', dom)
    assert re.search(r'data-criterion="short">.*?data-count="different">2<', dom, re.S)
    assert re.search(r'data-criterion="rude">.*?data-count="different">0<', dom, re.S)
    assert _rows_shown(dom) == ["r2", "r3"] and "short: MET → UNMET" in dom
    assert "Prompt 3" in dom and "run a thinks so" in dom and "run b thinks so" in dom
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "x", "reward": 1.0, "scores": {"a": 1}}] * 4)
    proc = run_cli("report", str(outs[0]), str(other), "-o", str(tmp_path / "d2.html"))
    assert proc.returncode == 2 and "other.jsonl:1" in proc.stderr and "field 'id'" in proc.stderr, proc.stderr


def _render_page(tmp_path, page):
    import subprocess

    from tests.evaluation.test_html_report import CHROMIUM

    flags = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout


def test_texts_come_only_from_the_input_the_run_judged(judge_server, tmp_path):
    from judgekit.evaluation.html_report import render_report

    data = write_jsonl(tmp_path / "in.jsonl", [{"id": "r0", "prompt": "the original prompt", "response": "yes"}])
    (tmp_path / "r.yaml").write_text(RUBRIC)
    out = tmp_path / "out.jsonl"
    proc = run_cli("score", str(data), "--rubric", str(tmp_path / "r.yaml"), "--judge", "openai:m", "--base-url",
                   judge_server.base_url, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "the original prompt" in render_report(out)
    write_jsonl(data, [{"id": "r0", "prompt": "an edited prompt", "response": "yes"}])  # or a record naming another file
    page = render_report(out)
    assert "an edited prompt" not in page and "no longer matches the rows" in page
