"""`judgekit rubric refine` without --rubric refines each row's own rubric against that row's
responses (scripted judge, real CLI): decomposition per prompt, each refined rubric beside its id,
a row whose rubric does not validate is that row's error."""

from __future__ import annotations

from pathlib import Path

from judgekit.testing import ScriptedJudgeServer
from judgekit.testing.server import is_verdict_request
from tests.authoring.test_refine import by_flag, decompose_script
from tests.helpers import read_jsonl, run_cli, write_jsonl

HELPFUL = {"id": "helpful", "text": "The response is helpful."}


def test_each_rows_rubric_is_refined_on_its_own_responses(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    script = judge_server.state.script
    script.met = by_flag({"helpful": "*", "clear": "clear", "helpful_gives_example": "example"})
    script.generate = decompose_script({"helpful": [
        {"id": "gives_example", "text": "The response gives a concrete example.", "kind": "principle", "weight": 1}]})
    rows = [
        {"id": "a", "prompt": "Explain gravity.", "rubric": {"name": "ra", "criteria": [HELPFUL]},
         "responses": ["a1 [example]", "a2", "a3 [example]", "a4"]},
        {"id": "b", "prompt": "Name a colour.", "rubric": {"name": "rb", "criteria": [
            {"id": "clear", "text": "The answer is clear."}, {"id": "brief", "text": "The answer is one word."}]},
         "responses": ["b1 [clear]", "b2", "b3 [clear]"]},
        {"id": "c", "prompt": "Q?", "rubric": {"name": "rc", "criteria": [{"id": "q", "text": "t", "kind": "bogus"}]},
         "responses": ["c1"]},
        {"id": "d", "prompt": "No rubric here.", "responses": ["d1"]},
    ]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "refined.jsonl"
    res = run_cli("rubric", "refine", str(data), "-o", str(out), "--judge", "openai:scripted",
                  "--base-url", judge_server.base_url, env={"OPENAI_API_KEY": "sk-test"})
    assert res.returncode == 0, res.stderr
    written = read_jsonl(out)
    assert [r["id"] for r in written] == ["a", "b", "c", "d"]
    a, b, c, d = written
    # Row a's 'helpful' is met by all four of its responses: decomposed against those responses.
    assert [x["id"] for x in a["rubric"]["criteria"]] == ["helpful_gives_example"]
    # Row b's rubric is refined on its own three responses; 'brief', never met there, is kept and reported.
    assert [x["id"] for x in b["rubric"]["criteria"]] == ["clear", "brief"]
    assert "brief" in b["refine"]["uninformative"]
    gen = [r for r in judge_server.state.requests if not is_verdict_request(r)]
    assert len(gen) == 1  # only row a asked for a decomposition
    # Bad rows: their own error, naming the file, the line and the field; the input row kept.
    assert c["rubric_error"].startswith(f"{data}:3") and "criterion 'q', field 'rubric.kind'" in c["rubric_error"]
    assert c["rubric"]["name"] == "rc"
    assert "rubric" in d["rubric_error"] and f"{data}:4" in d["rubric_error"]
    assert "2/4 rows' rubrics refined" in res.stderr
    assert "held-out: no labelled pairs" in res.stderr


def test_per_prompt_output_must_be_jsonl(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "Q", "responses": ["x"], "rubric": {"name": "r", "criteria": [HELPFUL]}}])
    res = run_cli("rubric", "refine", str(data), "-o", str(tmp_path / "r.yaml"))
    assert res.returncode == 2 and ".jsonl" in res.stderr
