"""`judgekit eval` reports SPEC section 8's statistics exactly, on scripted cases whose answers are known."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import cohen_kappa_score

from judgekit.testing import Script
from tests.helpers import read_jsonl, run_cli, write_jsonl

RUBRIC = "name: two\ncriteria:\n  - id: helpful\n    text: The response helps.\n  - id: correct\n    text: The response is correct.\n"
# What the scripted judge does on each pair; the first six pairs are labelled A>B, the last four B>A.
BEHAVIOUR = ["right", "right", "right", "wrong", "biased", "broken", "right", "wrong", "right", "biased"]
LABELS = ["A"] * 6 + ["B"] * 4


def _judgebench(tmp_path: Path) -> Path:
    rows = []
    for i, label in enumerate(LABELS):
        good, bad = f"good answer {i}", f"bad answer {i}"
        a, b = (good, bad) if label == "A" else (bad, good)
        rows.append({"pair_id": f"p{i}", "source": "math" if i % 2 else "code", "question": f"Question {i}?",
                     "response_A": a, "response_B": b, "label": "A>B" if label == "A" else "B>A"})
    return write_jsonl(tmp_path / "judgebench.jsonl", rows)


def _prefer(cid: str, a: str, b: str) -> str:
    behaviour = BEHAVIOUR[int(re.findall(r"\d+", a)[0])]
    good_first = a.startswith("good")
    return {"right": "A" if good_first else "B", "wrong": "B" if good_first else "A", "biased": "A",
            "broken": "neither"}[behaviour]  # "neither" is off the schema: re-asked, then unscored


def _eval(server_url: str, data: Path, rubric: Path, *extra: str, output: Path | None = None) -> dict:
    proc = run_cli("eval", str(data), "--format", "judgebench", "--rubric", str(rubric), "--judge", "openai:scripted",
                   "--base-url", server_url, "--seed", "5", "-o", str(output or "-"), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(output.read_text() if output else proc.stdout)


def _percentile_ci(values: list[float], seed: int) -> list[float]:
    res = bootstrap((np.array(values),), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(seed))
    return [round(float(res.confidence_interval.low), 4), round(float(res.confidence_interval.high), 4)]


def test_eval_reports_the_statistics_of_a_scripted_judge_exactly(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(prefer=_prefer)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    report = _eval(judge_server.base_url, _judgebench(tmp_path), rubric, output=tmp_path / "report.json")
    pairs = read_jsonl(tmp_path / report["pairs_file"])
    overall = report["overall"]
    winners = {"right": None, "wrong": None, "biased": "tie", "broken": None}
    expected_winners = [(lab if b == "right" else {"A": "B", "B": "A"}[lab] if b == "wrong" else winners[b])
                        for b, lab in zip(BEHAVIOUR, LABELS)]
    assert [p["winner"] for p in pairs] == expected_winners
    correct = [float(w == lab) for w, lab in zip(expected_winners, LABELS)]
    scored = [k for k, w in enumerate(expected_winners) if w is not None]
    assert overall == {
        "n": 10,
        "accuracy": 0.5,  # 5 right of 10 (the ties and the unscored pair count as wrong)
        "accuracy_ci": _percentile_ci(correct, 5),
        "accuracy_no_ties": round(5 / 7, 4),  # 7 pairs decided: 5 right, 2 wrong
        "kappa": round(13 / 49, 4),  # p_o = 5/9, p_e = (5*4 + 4*3) / 81
        "tie_rate": 0.2,
        "position_consistency": round(14 / 18, 4),  # 9 scored pairs x 2 criteria, 4 flip with the order
        "unscored_rate": 0.1,
        "pairs_inconsistent": 0.2,
        "unscored_criteria": 0.1,
        "confusion": {"A": {"A": 3, "B": 1, "tie": 1, "unscored": 1}, "B": {"A": 1, "B": 2, "tie": 1, "unscored": 0},
                      "tie": {"A": 0, "B": 0, "tie": 0, "unscored": 0}},
    }
    assert overall["kappa"] == round(cohen_kappa_score([LABELS[k] for k in scored], [expected_winners[k] for k in scored]), 4)
    assert set(report["subsets"]) == {"code", "math"}
    assert report["subsets"]["code"]["n"] == report["subsets"]["math"]["n"] == 5
    assert report["calls"] == len(judge_server.state.requests) == sum(m["calls"] for m in report["subsets"].values())
    assert report["tokens"] == {"prompt": 100 * report["calls"], "completion": 20 * report["calls"], "total": 120 * report["calls"]}
    assert report["cost_usd"] is None and report["judge"] == "openai:scripted" and report["rubric"] == str(rubric)


def test_eval_against_a_baseline_report_gives_the_paired_difference(judge_server, tmp_path: Path) -> None:
    data = _judgebench(tmp_path)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    judge_server.state.script = Script(prefer=_prefer)
    base_path = tmp_path / "base.json"
    _eval(judge_server.base_url, data, rubric, output=base_path)
    base_pairs = read_jsonl(tmp_path / "base.pairs.jsonl")
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A" if a.startswith("good") else "B")  # always right
    report = _eval(judge_server.base_url, data, rubric, "--no-cache", "--baseline", str(base_path))
    assert report["overall"]["accuracy"] == 1.0
    gain = [1.0 - float(p["winner"] == p["label"]) for p in base_pairs]
    assert report["difference"] == {"baseline": str(base_path), "n": 10, "accuracy": 0.5,
                                    "accuracy_ci": _percentile_ci(gain, 5)}
    listed = tmp_path / "listed.json"  # a report that lists its pairs (as reports did before the companion file)
    listed.write_text(json.dumps({"pairs": base_pairs[::-1]}))  # in another order: matched by id
    again = _eval(judge_server.base_url, data, rubric, "--no-cache", "--baseline", str(listed))
    assert again["difference"] == {**report["difference"], "baseline": str(listed)}


def test_eval_stopped_at_the_call_limit_keeps_the_finished_pairs_in_order(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(prefer=_prefer)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "report.json"
    proc = run_cli("eval", str(_judgebench(tmp_path)), "--format", "judgebench", "--rubric", str(rubric), "--judge",
                   "openai:scripted", "--base-url", judge_server.base_url, "--no-cache", "--concurrency", "1",
                   "--max-calls", "10", "-o", str(out))
    assert proc.returncode == 3, proc.stderr
    assert not out.exists()  # no report from part of the pairs
    finished = read_jsonl(tmp_path / "report.pairs.jsonl")
    assert 0 < len(finished) < len(LABELS)
    assert [p["id"] for p in finished] == [f"{'math' if i % 2 else 'code'}:p{i}" for i in range(len(finished))]


def test_a_baseline_on_other_pairs_is_bad_input(judge_server, tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"pairs": [{"id": "x:1", "label": "A", "winner": "A"}]}))
    proc = run_cli("eval", str(_judgebench(tmp_path)), "--format", "judgebench", "--rubric", str(rubric), "--judge",
                   "openai:scripted", "--base-url", judge_server.base_url, "--baseline", str(other))
    assert proc.returncode == 2 and "other.json" in proc.stderr and "same pairs" in proc.stderr
    not_a_report = tmp_path / "nope.json"
    not_a_report.write_text("[1, 2]")
    proc = run_cli("eval", str(_judgebench(tmp_path)), "--format", "judgebench", "--rubric", str(rubric), "--judge",
                   "openai:scripted", "--base-url", judge_server.base_url, "--baseline", str(not_a_report))
    assert proc.returncode == 2 and "nope.json" in proc.stderr and "pairs" in proc.stderr
    assert not judge_server.state.requests  # refused before any call
