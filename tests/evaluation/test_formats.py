"""The public layouts beyond labelled pairs, read from rows written in those layouts and evaluated with a
scripted judge whose answers are known: JudgeBench, RewardBench 2 (best-of-4 and its Ties subset),
and rows carrying a human verdict per criterion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from judgekit.data.datasets import read_pairs, read_rewardbench2
from judgekit.errors import InputError
from judgekit.evaluation.best_of_n import row_result
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import read_jsonl, run_cli, write_jsonl

RUBRIC = "name: two\ncriteria:\n  - id: helpful\n    text: The response helps.\n  - id: correct\n    text: The response is correct.\n"


def _marked(cid: str, response: str) -> bool:
    """The scripted judge: MET for `helpful` when the response carries [h], for `correct` when [c]."""
    return {"helpful": "[h]", "correct": "[c]"}[cid] in response


def _run_eval(server_url: str, data: Path, fmt: str, rubric: Path, *extra: str) -> tuple[dict, list[dict]]:
    """The report, and the rows' records from its companion file."""
    out = data.parent / "report.json"
    proc = run_cli("eval", str(data), "--format", fmt, "--rubric", str(rubric), "--judge", "openai:scripted",
                   "--base-url", server_url, "-o", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["rows_file"] == "report.rows.jsonl" and "rows" not in report
    return report, read_jsonl(out.parent / report["rows_file"])


# ---- JudgeBench ---------------------------------------------------------------------------------


def test_judgebench_rows_in_its_layout(tmp_path: Path) -> None:
    rows = [{"pair_id": "a1", "original_id": "q9", "source": "mmlu-pro-law", "question": "Q?", "response_model": "m",
             "response_A": "one", "response_B": "two", "label": "A>B"},
            {"pair_id": "a2", "original_id": "q9", "source": "livecodebench", "question": "Q2?", "response_model": "m",
             "response_A": "three", "response_B": "four", "label": "B>A"}]
    pairs = read_pairs(write_jsonl(tmp_path / "judgebench.jsonl", rows), "judgebench")
    assert [(p.id, p.subset, p.prompt, p.response_a, p.response_b, p.label) for p in pairs] == [
        ("mmlu-pro-law:a1", "mmlu-pro-law", "Q?", "one", "two", "A"), ("livecodebench:a2", "livecodebench", "Q2?", "three", "four", "B")]


# ---- RewardBench 2 ------------------------------------------------------------------------------

H, C, HC, NONE = "[h]", "[c]", "[h][c]", "-"  # rewards 0.5, 0.5, 1.0, 0.0 under the two-criterion rubric


def _rb2_rows() -> list[dict]:
    def row(rid: str, subset: str, chosen: list[str], rejected: list[str]) -> dict:
        prompt = f"Prompt {rid}"
        return {"id": rid, "subset": subset, "prompt": prompt, "chosen": [f"{rid} chosen {k} {m}" for k, m in enumerate(chosen)],
                "rejected": [f"{rid} rejected {k} {m}" for k, m in enumerate(rejected)], "num_correct": len(chosen),
                "num_rejected": len(rejected), "total_completions": len(chosen) + len(rejected), "models": ["m"] * 4}

    return [
        row("f1", "Factuality", [HC], [NONE, NONE, NONE]),  # chosen alone on top: 1
        row("f2", "Factuality", [H], [HC, NONE, NONE]),  # a rejected one on top: 0
        row("f3", "Factuality", [HC], [HC, NONE, NONE]),  # chosen shares the top with one other: 1/2
        row("ref:1", "Ties", [HC], [NONE, NONE, H]),  # accurate; gap 0.5
        row("tied:1", "Ties", [HC, HC], [NONE, C]),  # accurate; spread 0, gap 0.5
        row("ref:2", "Ties", [H], [C, NONE, NONE]),  # not accurate; gap 0
        row("tied:2", "Ties", [HC, H], [C, NONE]),  # not accurate; spread 0.5, gap 0
    ]


def test_rewardbench2_scored_as_its_authors_do(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(met=_marked)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    report, rows = _run_eval(judge_server.base_url, write_jsonl(tmp_path / "rb2.jsonl", _rb2_rows()), "rewardbench2", rubric)
    factuality, ties = report["subsets"]["Factuality"], report["subsets"]["Ties"]
    assert [r["rewards"] for r in rows[:3]] == [[1.0, 0.0, 0.0, 0.0], [0.5, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
    assert (factuality["n"], factuality["accuracy"], factuality["accuracy_no_ties"], factuality["tie_rate"]) == (3, 0.5, 0.5, round(1 / 3, 4))
    # Ties: accuracy 1/2 for ref and for tied rows; preferred and preferred_hard 1/2 (prompt 1 only);
    # margin: tanh(0.5 / 0 - 1) = 1 for prompt 1, tanh(0 / 0.5 - 1) = tanh(-1) for prompt 2.
    margin = (1 + np.tanh(-1)) / 2
    ties_score = 0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * margin
    assert ties["n"] == 4 and ties["accuracy"] == round(ties_score, 4)
    assert report["overall"]["accuracy"] == round((0.5 + ties_score) / 2, 4)  # the mean of the subsets' scores
    assert report["overall"]["n"] == 7 and report["overall"]["kappa"] is None and report["overall"]["unscored_rate"] == 0.0
    lo, hi = factuality["accuracy_ci"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0
    assert report["calls"] == len(judge_server.state.requests) > 0 and report["cost_usd"] is None


def test_best_of_n_result_follows_the_authors_tie_penalty() -> None:
    assert row_result([1.0, 0.0, 0.0, 0.0]) == 1.0
    assert row_result([1.0, 1.0, 1.0, 0.0]) == pytest.approx(1 / 3)
    assert row_result([0.5, 1.0, 0.0, 0.0]) == 0.0
    assert row_result([1.0, None, 0.0, 0.0]) == 0.0  # an unscored candidate: not right


def test_rewardbench2_bad_rows_name_file_line_and_field(tmp_path: Path) -> None:
    good = _rb2_rows()[0]
    cases = [({**good, "rejected": "text"}, "rejected"), ({**good, "chosen": []}, "chosen"),
             ({**good, "id": "7", "subset": "Ties"}, "id"), ({k: v for k, v in good.items() if k != "prompt"}, "prompt")]
    for bad, field in cases:
        path = write_jsonl(tmp_path / "rb2.jsonl", [good, bad])
        with pytest.raises(InputError) as exc:
            read_rewardbench2(path)
        assert exc.value.line == 2 and exc.value.field == field and exc.value.file == str(path)


# ---- human labels per criterion --------------------------------------------------------------------


def _labelled_rows() -> list[dict]:
    # (markers in the response -> the judge's verdicts, the human's labels)
    cases = [(HC, {"helpful": 1, "correct": 1}), (HC, {"helpful": 1, "correct": 0}), (H, {"helpful": 1, "correct": 1}),
             (H, {"helpful": 0, "correct": 0}), (C, {"helpful": 0, "correct": 1}), (NONE, {"helpful": 1, "correct": 0}),
             (NONE, {"helpful": 0}), (C, {"correct": 1}), (HC, {"helpful": 1, "correct": 1}), (NONE, {"helpful": 0, "correct": 0})]
    return [{"id": f"r{k}", "prompt": f"Question {k}?", "response": f"Answer {k} {m}", "labels": labels}
            for k, (m, labels) in enumerate(cases)]


def test_eval_whose_every_call_failed_prints_the_first_reasons_with_the_url(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    data = write_jsonl(tmp_path / "labels.jsonl", _labelled_rows()[:4])
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as server:
        url = server.base_url.replace("http://", "http://admin:hunter2-eval-pw@")
        proc = run_cli("eval", str(data), "--format", "labels", "--rubric", str(rubric), "--judge", "openai:scripted",
                       "--base-url", url, "--max-attempts", "1", "--no-cache", "-o", str(tmp_path / "report.json"))
    assert proc.returncode == 1, proc.stderr
    assert "every judge call failed; the first reasons:" in proc.stderr
    shown = url.replace("hunter2-eval-pw", "***")
    reasons = [line.strip() for line in proc.stderr.splitlines() if line.strip().startswith(f"{shown}: HTTP 500: internal error")]
    assert len(reasons) == 1 and reasons[0].endswith("(8 calls)"), proc.stderr  # 4 rows x 2 criteria
    assert "hunter2-eval-pw" not in proc.stderr and "Traceback" not in proc.stderr


def test_labels_report_per_criterion_agreement_exactly(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(met=_marked)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    rows = _labelled_rows()
    report, records = _run_eval(judge_server.base_url, write_jsonl(tmp_path / "labels.jsonl", rows), "labels", rubric)
    f1s = []
    for cid, mark in (("helpful", "[h]"), ("correct", "[c]")):
        truth = [r["labels"][cid] for r in rows if cid in r["labels"]]
        pred = [int(mark in r["response"]) for r in rows if cid in r["labels"]]
        p, rec, f1, _ = precision_recall_fscore_support(truth, pred, average="binary", zero_division=0)
        got = report["criteria"][cid]
        assert (got["n"], got["precision"], got["recall"], got["f1"], got["kappa"]) == (
            len(truth), round(p, 4), round(rec, 4), round(f1, 4), round(cohen_kappa_score(truth, pred), 4))
        assert all(got[f"{k}_ci"][0] <= got[k] <= got[f"{k}_ci"][1] for k in ("precision", "recall", "f1", "kappa"))
        f1s.append(f1_score(truth, pred))
    assert report["criteria"]["helpful"]["confusion"] == {"tp": 4, "fp": 1, "fn": 1, "tn": 3}
    overall = report["overall"]
    assert (overall["n"], overall["criteria"], overall["macro_f1"], overall["unscored_rate"]) == (10, 2, round(float(np.mean(f1s)), 4), 0.0)
    assert overall["macro_f1_ci"][0] <= overall["macro_f1"] <= overall["macro_f1_ci"][1]
    assert report["calls"] == len(judge_server.state.requests) and report["cost_usd"] is None
    assert [r["id"] for r in records] == [r["id"] for r in rows]


@pytest.mark.parametrize("labels,field", [({"helpful": 1, "tone": 0}, "labels.tone"), ({"helpful": 2}, "labels.helpful"),
                                          ({"helpful": "yes"}, "labels.helpful"), ([1, 0], "labels")])
def test_bad_labels_exit_2_naming_file_line_and_field(judge_server, tmp_path: Path, labels: object, field: str) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    rows = [*_labelled_rows()[:2], {"prompt": "Q?", "response": "A", "labels": labels}]
    data = write_jsonl(tmp_path / "labels.jsonl", rows)
    proc = run_cli("eval", str(data), "--format", "labels", "--rubric", str(rubric), "--judge", "openai:scripted",
                   "--base-url", judge_server.base_url)
    assert proc.returncode == 2, proc.stderr
    assert "labels.jsonl:3" in proc.stderr and f"field '{field}'" in proc.stderr and "Traceback" not in proc.stderr
    assert not judge_server.state.requests


def test_a_label_on_a_rated_criterion_exits_2(judge_server, tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC + "  - id: clear\n    text: How clear.\n    scale: {min: 1, max: 5}\n")
    data = write_jsonl(tmp_path / "labels.jsonl", [{"prompt": "Q?", "response": "A", "labels": {"clear": 1}}])
    proc = run_cli("eval", str(data), "--format", "labels", "--rubric", str(rubric), "--judge", "openai:scripted",
                   "--base-url", judge_server.base_url)
    assert proc.returncode == 2 and "labels.jsonl:1" in proc.stderr and "field 'labels.clear'" in proc.stderr
    assert "rated on a scale" in proc.stderr and not judge_server.state.requests


def test_pair_only_options_are_refused_on_other_formats(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    data = write_jsonl(tmp_path / "labels.jsonl", _labelled_rows())
    proc = run_cli("eval", str(data), "--format", "labels", "--rubric", str(rubric), "--probe", "master-key",
                   "--judge", "openai:scripted", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "--probe" in proc.stderr
