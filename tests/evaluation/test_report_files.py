"""`judgekit report` writes only its page: never its input (whatever the path that names it), and it reads
an eval report's pairs only from the file beside the report."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import run_cli

RUN_ROW = {"id": "r0", "reward": 1.0, "coverage": 1.0, "scores": {"a": 1}, "unscored": {}}
REPORT = {"overall": {"n": 1, "accuracy": 1.0}, "subsets": {}}


@pytest.mark.parametrize("how", ["same_path", "hard_link", "symlink"])
def test_report_never_writes_its_input(tmp_path, how):
    source = tmp_path / "run.jsonl"
    source.write_text(json.dumps(RUN_ROW) + "\n")
    before = source.read_bytes()
    target = tmp_path / "page.html"
    if how == "same_path":
        target = source
    elif how == "hard_link":
        os.link(source, target)
    else:
        target.symlink_to(source)
    proc = run_cli("report", str(source), "-o", str(target))
    assert proc.returncode == 2, proc.stderr
    assert "the output is the input file" in proc.stderr and "Traceback" not in proc.stderr
    assert source.read_bytes() == before


@pytest.mark.parametrize("named", ["ABSOLUTE", "../secret.jsonl", "sub/../../secret.jsonl", "LINK"])
def test_an_eval_report_reads_no_pairs_file_but_the_one_beside_it(tmp_path, named):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"id": "p", "label": "A", "winner": "A", "note": "private-text-42"}) + "\n")
    folder = tmp_path / "reports"
    folder.mkdir()
    if named == "ABSOLUTE":
        named = str(secret)
    elif named == "LINK":  # a file beside the report that leads out of its folder
        (folder / "pairs.jsonl").symlink_to(secret)
        named = "pairs.jsonl"
    report = folder / "report.json"
    report.write_text(json.dumps({**REPORT, "pairs_file": named}))
    proc = run_cli("report", str(report), "-o", str(folder / "page.html"))
    assert proc.returncode == 2, proc.stderr
    assert "pairs_file must name a file beside the report" in proc.stderr and "field 'pairs_file'" in proc.stderr
    assert not (folder / "page.html").exists()


def test_the_pairs_file_beside_the_report_is_read(tmp_path):
    (tmp_path / "report.pairs.jsonl").write_text(json.dumps({"id": "p1", "label": "A", "winner": "A"}) + "\n")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**REPORT, "pairs_file": "report.pairs.jsonl"}))
    proc = run_cli("report", str(report), "-o", str(tmp_path / "page.html"))
    assert proc.returncode == 0, proc.stderr
    assert '"p1"' in (tmp_path / "page.html").read_text()


def test_a_baseline_report_reads_no_pairs_file_but_the_one_beside_it(tmp_path):
    from judgekit.errors import InputError
    from judgekit.evaluation.pair_report import baseline_outcomes

    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"id": "p", "label": "A", "winner": "A"}) + "\n")
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "base.json"
    report.write_text(json.dumps({**REPORT, "pairs_file": str(secret)}))
    with pytest.raises(InputError, match="beside the report"):
        baseline_outcomes(report)


@pytest.mark.parametrize("how", ["same_path", "hard_link", "several_profiles"])
def test_report_never_writes_the_pairs_file_it_reads(tmp_path, how):
    pairs = tmp_path / "report.pairs.jsonl"
    pairs.write_text(json.dumps({"id": "p1", "label": "A", "winner": "A"}) + "\n")
    before = pairs.read_bytes()
    one = {**REPORT, "pairs_file": pairs.name}
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"profiles": {"x": REPORT, "y": one}} if how == "several_profiles" else one))
    target = pairs
    if how == "hard_link":
        target = tmp_path / "page.html"
        os.link(pairs, target)
    proc = run_cli("report", str(report), "-o", str(target))
    assert proc.returncode == 2, proc.stderr
    assert f"the output is the input file ({pairs})" in proc.stderr and "Traceback" not in proc.stderr
    assert pairs.read_bytes() == before
