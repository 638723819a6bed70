"""`--shots K --shots-from FILE`: worked examples drawn (seeded) from labelled rows, in `score` and
in `eval` (with and without them, the paired difference), against the scripted HTTP judge."""

from __future__ import annotations

import json
import re
from pathlib import Path

from judgekit.testing import Script, ScriptedJudgeServer
from tests.helpers import read_jsonl, run_cli, write_jsonl

RUBRIC = "name: t\ncriteria:\n  - id: correct\n    text: The answer is correct.\n  - id: short\n    text: The answer is short.\n"
LABELLED = [{"id": i, "prompt": f"What is {i}+{i}?", "response": f"It is {2 * i}.", "labels": {"correct": 1}} for i in range(6)] + [
    {"id": 10 + i, "prompt": f"What is {i}+{i}?", "response": f"It is {2 * i + 1}.", "labels": {"correct": 0, "short": 1}}
    for i in range(6)]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC)
    return rubric, write_jsonl(tmp_path / "labelled.jsonl", LABELLED)


def _examples(body: dict[str, object]) -> list[str]:
    text = body["messages"][-1]["content"]  # type: ignore[index]
    return re.findall(r"<judgekit-example-\w+>\n(.*?)\n</judgekit-example", text, re.S)


def test_score_draws_k_examples_per_criterion_seeded_and_records_them(tmp_path: Path, judge_server: ScriptedJudgeServer) -> None:
    rubric, labelled = _files(tmp_path)
    rows = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "What is 7+7?", "response": "It is 14."}])
    out = tmp_path / "out.jsonl"
    common = ["score", str(rows), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url, "-o", str(out)]
    done = run_cli(*common, "--shots", "3", "--shots-from", str(labelled))
    assert done.returncode == 0, done.stderr
    by_criterion = {b["response_format"]["json_schema"]["schema"]["properties"]["verdicts"]["items"]["properties"]
                    ["criterion_id"]["enum"][0]: _examples(b) for b in judge_server.state.requests}
    assert len(by_criterion["correct"]) == 3 and len(by_criterion["short"]) == 3
    assert set(by_criterion["short"]) <= {r["response"] for r in LABELLED if "short" in r["labels"]}
    assert read_jsonl(out)[0]["reward"] == 1.0
    # the same seed draws the same examples: the second run is answered from the cache
    calls = judge_server.state.count
    assert run_cli(*common, "--shots", "3", "--shots-from", str(labelled), "-o", str(tmp_path / "again.jsonl")).returncode == 0
    assert judge_server.state.count == calls
    # other shots are another rubric: --resume refuses to mix them
    refused = run_cli(*common, "--shots", "1", "--shots-from", str(labelled), "--resume")
    assert refused.returncode == 2 and "rubric" in refused.stderr
    alone = run_cli(*common, "--shots", "1")
    assert alone.returncode == 2 and "--shots-from" in alone.stderr


def test_a_label_that_does_not_fit_is_bad_input_naming_file_line_field(tmp_path: Path) -> None:
    rubric, _ = _files(tmp_path)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "q", "response": "r", "labels": {"correct": "yes"}}])
    rows = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "q", "response": "r"}])
    done = run_cli("score", str(rows), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                   "--shots", "2", "--shots-from", str(bad), "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 2 and "bad.jsonl:1" in done.stderr and "labels.correct" in done.stderr, done.stderr


def test_eval_compares_with_and_without_shots_by_the_paired_difference(tmp_path: Path, judge_server: ScriptedJudgeServer) -> None:
    state = judge_server.state

    def prefer(cid: str, a: str, b: str) -> str:
        # position-biased without examples; with them, it picks the even (right) sum
        if "Worked examples" not in state.requests[-1]["messages"][-1]["content"]:
            return "A"
        return "A" if int(re.findall(r"\d+", a)[0]) % 2 == 0 else "B"

    state.script = Script(prefer=prefer)
    rubric, labelled = _files(tmp_path)
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"pair_id": f"p{i}", "question": f"What is {i}+{i}?", "response_A": f"It is {2 * i + (i % 2)}.",
         "response_B": f"It is {2 * i + 1 - (i % 2)}.", "label": "B>A" if i % 2 else "A>B"} for i in range(8)])
    report_path = tmp_path / "report.json"
    done = run_cli("eval", str(pairs), "--format", "judgebench", "--rubric", str(rubric), "--judge", "openai:m",
                   "--base-url", judge_server.base_url, "--concurrency", "1", "--shots", "2", "--shots-from", str(labelled),
                   "-o", str(report_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["without_shots"]["overall"]["accuracy"] == 0.0
    assert report["with_shots"]["overall"]["accuracy"] == 1.0
    assert report["difference"]["accuracy"] == 1.0 and report["difference"]["n"] == 8
    assert (tmp_path / "report.pairs.jsonl").exists() and (tmp_path / "report.shots.pairs.jsonl").exists()
