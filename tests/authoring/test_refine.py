"""`judgekit rubric refine` against the scripted judge over real HTTP: misaligned and redundant
criteria dropped, correlated criteria share weight, too-easy criteria decomposed, a second run
free; and an end-to-end run with the embedded model on LLMBar."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from judgekit import Judge, load_rubric
from judgekit.authoring.refine import RefineSettings, refine_rubric
from judgekit.authoring.weights import correlation_aware_weights
from judgekit.data.rows import DataRow, read_data
from judgekit.rubric.models import Rubric
from judgekit.testing import ScriptedJudgeServer
from judgekit.testing.server import is_verdict_request
from tests.helpers import SHARED_DATA, run_cli, write_jsonl


def flags(response: str) -> set[str]:
    m = re.search(r"\[([a-z_,]*)\]", response)
    return set(m.group(1).split(",")) - {""} if m else set()


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def pair_rows(n: int) -> list[dict[str, Any]]:
    """n labelled pairs: the chosen response is 'good', the rejected one 'bad'; rows alternate 'even'."""
    rows = []
    for i in range(n):
        extra = ",even" if i % 2 == 0 else ""
        rows.append({"id": f"p{i}", "prompt": f"Question {i}?",
                     "chosen": f"answer {i} chosen [good{extra}]", "rejected": f"answer {i} rejected [bad{extra}]"})
    return rows


def by_flag(mapping: dict[str, str]) -> Any:
    """met(cid, response): the criterion's flag is in the response; '*' means always."""
    def met(cid: str, response: str) -> bool:
        flag = mapping.get(cid)
        return flag == "*" or flag in flags(response)
    return met


def ids_weights(path: Path) -> dict[str, float]:
    return {c.cid: c.weight for c in load_rubric(path).criteria}


def cli_refine(server: ScriptedJudgeServer, rubric: Path, data: Path, out: Path, *extra: str) -> Any:
    return run_cli("rubric", "refine", "--rubric", str(rubric), "--data", str(data), "-o", str(out),
                   "--judge", "openai:scripted", "--base-url", server.base_url, *extra,
                   env={"OPENAI_API_KEY": "sk-test"})


def test_reversed_and_duplicated_criteria_are_removed(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    judge_server.state.script.met = by_flag(
        {"accurate": "good", "accurate_copy": "good", "correct": "good", "reversed": "bad", "independent": "even"})
    data = write_jsonl(tmp_path / "pairs.jsonl", pair_rows(8))
    rubric = write_yaml(tmp_path / "r.yaml", {"name": "t", "criteria": [
        {"id": "accurate", "text": "The response is accurate.", "weight": 3},
        {"id": "accurate_copy", "text": "The response is accurate!"},
        {"id": "correct", "text": "Every claim in the answer is correct."},
        {"id": "reversed", "text": "The response hedges a lot."},
        {"id": "independent", "text": "The response is formatted as a list."},
    ]})
    out, report = tmp_path / "r2.yaml", tmp_path / "report.html"
    res = cli_refine(judge_server, rubric, data, out, "--no-decompose", "--report", str(report))
    assert res.returncode == 0, res.stderr
    assert ids_weights(out) == {"accurate": 1.0, "independent": 1.0}
    calls = judge_server.state.count
    assert calls == 5 * 16  # five criteria on sixteen responses, one call each

    prov = load_rubric(out).provenance
    status = {n["id"]: n["status"] for n in prov["tree"]["nodes"]}
    assert status["reversed"].startswith("dropped: misaligned")
    assert "near-duplicate text of 'accurate'" in status["accurate_copy"]
    assert "verdicts agree with 'accurate'" in status["correct"]
    assert prov["pair_accuracy"]["after"] == 1.0

    data_json = json.loads((tmp_path / "report.json").read_text())
    assert data_json["criteria"]["reversed"]["prefers_rejected"] == 8
    assert data_json["judge_calls"] == 80
    page = report.read_text()
    assert "<svg" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")

    # The same run again: every verdict comes from the cache.
    res2 = cli_refine(judge_server, rubric, data, tmp_path / "r3.yaml", "--no-decompose")
    assert res2.returncode == 0, res2.stderr
    assert judge_server.state.count == calls
    assert (tmp_path / "r3.yaml").read_text().split("\n", 1)[1] == out.read_text().split("\n", 1)[1]

    # The refined rubric validates and scores.
    assert run_cli("rubric", "validate", str(out)).returncode == 0
    score_in = write_jsonl(tmp_path / "score.jsonl", [{"id": 1, "prompt": "Q?", "response": "x [good]"}])
    scored = run_cli("score", str(score_in), "--rubric", str(out), "--judge", "openai:scripted",
                     "--base-url", judge_server.base_url, "-o", str(tmp_path / "s.jsonl"), env={"OPENAI_API_KEY": "sk-test"})
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "s.jsonl").read_text())["reward"] == 0.5


A = "11110000"
B = "11100001"  # correlation 0.5 with A
C = "10101010"  # uncorrelated with both


def response_rows(patterns: dict[str, str]) -> list[DataRow]:
    """Eight responses over two prompts; response k carries flag cid when patterns[cid][k] == '1'."""
    rows = []
    for r in range(2):
        row = DataRow(line=r + 1, id=r, prompt=f"prompt {r}")
        for k in range(r * 4, r * 4 + 4):
            on = [cid for cid, p in patterns.items() if p[k] == "1"]
            row.add(f"response {k} [{','.join(on)}]")
        rows.append(row)
    return rows


def refine_api(server: ScriptedJudgeServer, rubric: Rubric, rows: list[DataRow], settings: RefineSettings) -> Any:
    with Judge("openai:scripted", base_url=server.base_url, api_key="sk-test") as judge:
        return judge.run(refine_rubric(judge.context(), rubric, rows, settings)), judge.stats.calls


# The weight formula alone, without the bootstrap test or the information factor.
FORMULA = RefineSettings(decompose=False, weight_evidence=False, informative=False)


def test_two_correlated_criteria_share_the_weight_of_an_independent_one(judge_server: ScriptedJudgeServer) -> None:
    judge_server.state.script.met = by_flag({"a": "a", "b": "b", "c": "c"})
    rows = response_rows({"a": A, "b": B, "c": C})
    rubric = Rubric(name="w", criteria=[{"id": "a", "text": "Names the cause."}, {"id": "b", "text": "Gives the date."},
                                        {"id": "c", "text": "Uses a table."}])
    result, calls = refine_api(judge_server, rubric, rows, FORMULA)
    w = {c.cid: c.weight for c in result.rubric.criteria}
    # pair: 1/sqrt(1 + 0.9*0.5) each, independent 1, scaled to sum to 3
    assert w == {"a": 0.936, "b": 0.936, "c": 1.127}
    assert calls == 3 * 8
    # With the evidence test (the default), eight responses cannot support these changes.
    tested, _ = refine_api(judge_server, rubric, rows, RefineSettings(decompose=False))
    assert {c.cid: c.weight for c in tested.rubric.criteria} == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert all("not enough evidence for a weight change" in tested.evidence[cid] for cid in "abc")
    assert result.before.corr[0][1] == pytest.approx(0.5)
    assert result.after.effective_criteria < 3

    # A duplicated criterion (redundancy filter off) with p = 1: the two copies share one weight.
    judge_server.state.script.met = by_flag({"a": "a", "a2": "a", "c": "c"})
    rubric2 = Rubric(name="w", criteria=[{"id": "a", "text": "Names the cause."}, {"id": "a2", "text": "Explains why."},
                                         {"id": "c", "text": "Uses a table."}])
    result2, _ = refine_api(judge_server, rubric2, response_rows({"a": A, "c": C}),
                            RefineSettings(decompose=False, filter_redundant=False, power=1.0, weight_evidence=False,
                                           informative=False))
    w2 = {c.cid: c.weight for c in result2.rubric.criteria}
    assert w2["a"] == w2["a2"]
    assert (w2["a"] + w2["a2"]) / w2["c"] == pytest.approx(2 / 1.9, abs=2e-3)
    s = [[float(ch == "1") for ch in col] for col in (A, A, C)]
    expected = correlation_aware_weights(list(map(list, zip(*s))), power=1.0)  # type: ignore[arg-type]
    assert [w2["a"], w2["a2"], w2["c"]] == pytest.approx(expected, abs=1e-3)


def decompose_script(children: dict[str, list[dict[str, Any]]]) -> Any:
    def generate(body: dict[str, Any]) -> dict[str, Any]:
        text = "\n".join(m["content"] for m in body["messages"])
        for parent, kids in children.items():
            if f'criterion_id "{parent}"' in text:
                return {"criteria": kids}
        return {"criteria": [{"id": "x", "text": "unrelated", "kind": "principle", "weight": 1}]}
    return generate


def test_too_easy_criterion_is_decomposed(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    script = judge_server.state.script
    script.met = by_flag({"helpful": "*", "accurate": "good",
                          "helpful_gives_example": "example", "helpful_explains_why": "why", "helpful_in_english": "*"})
    script.generate = decompose_script({"helpful": [
        {"id": "gives_example", "text": "The response gives a concrete example.", "kind": "principle", "weight": 3},
        {"id": "explains_why", "text": "The response explains why the answer holds.", "kind": "principle", "weight": 1},
        {"id": "in_english", "text": "The response is written in English.", "kind": "principle", "weight": 1},
    ]})
    rows = []
    for i in range(6):
        rows.append({"prompt": f"Q{i}", "responses": [
            f"r{i}a [good,example{',why' if i % 2 else ''}]", f"r{i}b [bad{',example' if i % 3 == 0 else ''}]",
            f"r{i}c [good{',why' if i % 3 == 1 else ''}]"]})
    data = write_jsonl(tmp_path / "resp.jsonl", rows)
    rubric = write_yaml(tmp_path / "r.yaml", {"name": "t", "criteria": [
        {"id": "helpful", "text": "The response is helpful.", "weight": 4},
        {"id": "accurate", "text": "The response is accurate."},
    ]})
    out = tmp_path / "r2.yaml"
    res = cli_refine(judge_server, rubric, data, out, "--report", str(tmp_path / "rep.html"))
    assert res.returncode == 0, res.stderr
    final = load_rubric(out)
    assert final.ids == ["helpful_gives_example", "helpful_explains_why", "accurate"]
    assert all(c.kind == "principle" for c in final.criteria)
    tree = final.provenance["tree"]
    assert ["helpful", "helpful_gives_example"] in tree["edges"] and ["helpful", "helpful_in_english"] in tree["edges"]
    status = {n["id"]: n["status"] for n in tree["nodes"]}
    assert status["helpful"] == "decomposed"
    assert status["helpful_in_english"].startswith("not discriminative")
    gen_requests = [r for r in judge_server.state.requests if not is_verdict_request(r)]
    assert len(gen_requests) == 1
    calls = judge_server.state.count
    assert calls == 1 + 18 * 5  # one decomposition, five criteria on eighteen responses

    res2 = cli_refine(judge_server, rubric, data, tmp_path / "r3.yaml")
    assert res2.returncode == 0, res2.stderr
    assert judge_server.state.count == calls  # the decomposition answer is cached too
    assert load_rubric(tmp_path / "r3.yaml").ids == final.ids


def test_rejected_decompositions_stop_early(judge_server: ScriptedJudgeServer) -> None:
    script = judge_server.state.script
    script.met = lambda cid, response: True  # everything is easy, every proposal as easy as its parent
    script.generate = decompose_script({p: [{"id": "same", "text": f"Also {p} in a different way.", "kind": "principle",
                                             "weight": 1}] for p in ("e1", "e2", "e3")})
    rubric = Rubric(name="t", criteria=[{"id": p, "text": f"Criterion {p}."} for p in ("e1", "e2", "e3")])
    result, _ = refine_api(judge_server, rubric, response_rows({"x": A}),
                           RefineSettings(max_rejections=2, filter_redundant=False))
    assert result.stop_reason == "early stop after 2 rejected decompositions"
    assert [c.cid for c in result.rubric.criteria] == ["e1", "e2", "e3"]
    assert result.tree.has_edge("e1", "e1_same") and not result.tree.has_node("e3_same")


def test_bad_input_names_file_line_field(tmp_path: Path) -> None:
    rubric = write_yaml(tmp_path / "r.yaml", {"name": "t", "criteria": [{"text": "x"}]})
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "responses": ["x"]}, {"question_missing": 1}])
    res = run_cli("rubric", "refine", "--rubric", str(rubric), "--data", str(data), "-o", str(tmp_path / "o.yaml"))
    assert res.returncode == 2
    assert "d.jsonl:2" in res.stderr and "'prompt'" in res.stderr
    data2 = write_jsonl(tmp_path / "d2.jsonl", [{"prompt": "a"}])
    res2 = run_cli("rubric", "refine", "--rubric", str(rubric), "--data", str(data2), "-o", str(tmp_path / "o.yaml"))
    assert res2.returncode == 2 and "d2.jsonl:1" in res2.stderr and "'responses'" in res2.stderr
    data3 = write_jsonl(tmp_path / "d3.jsonl", [{"input": "a", "output_1": "x", "output_2": "y", "label": 7}])
    res3 = run_cli("rubric", "refine", "--rubric", str(rubric), "--data", str(data3), "-o", str(tmp_path / "o.yaml"))
    assert res3.returncode == 2 and "'label'" in res3.stderr


def test_llmbar_rows_are_read_as_pairs() -> None:
    rows = read_data(SHARED_DATA / "llmbar" / "natural.json", limit=3)
    assert len(rows) == 3
    raw = json.loads((SHARED_DATA / "llmbar" / "natural.json").read_text())[:3]
    for row, obj in zip(rows, raw):
        chosen, rejected = row.pairs[0]
        good = obj["output_1"] if obj["label"] == 1 else obj["output_2"]
        assert row.responses[chosen] == good and row.responses[rejected] != good


@pytest.mark.slow
def test_refine_end_to_end_with_the_embedded_model(tmp_path: Path) -> None:
    rubric = write_yaml(tmp_path / "small.yaml", {"name": "llmbar_small", "criteria": [
        {"id": "follows_instruction", "text": "The response does exactly what the user's instruction asks."},
        {"id": "correct", "text": "The response is factually correct."},
        {"id": "concise", "text": "The response contains no irrelevant content."},
    ]})
    out, report = tmp_path / "out.yaml", tmp_path / "report.html"
    args = ("rubric", "refine", "--rubric", str(rubric), "--data", str(SHARED_DATA / "llmbar" / "natural.json"),
            "--limit", "4", "--judge", "local", "--timeout", "600", "-o", str(out), "--report", str(report))
    res = run_cli(*args, timeout=900)
    assert res.returncode == 0, res.stderr
    final = load_rubric(out)
    assert final.criteria and final.provenance["tree"]["nodes"]
    assert json.loads((tmp_path / "report.json").read_text())["responses"] == 8
    assert run_cli("rubric", "validate", str(out)).returncode == 0
    again = run_cli(*args, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "judge calls: 0 " in again.stderr


def test_an_interrupted_or_extended_run_pays_only_for_new_work(judge_server: ScriptedJudgeServer) -> None:
    """Verdicts are cached one call at a time: a run over more rows (or one restarted after an
    interruption) asks only what no earlier run asked."""
    judge_server.state.script.met = by_flag({"a": "a", "b": "b", "c": "c"})
    rubric = Rubric(name="w", criteria=[{"id": "a", "text": "Names the cause."}, {"id": "b", "text": "Gives the date."},
                                        {"id": "c", "text": "Uses a table."}])
    rows = response_rows({"a": A, "b": B, "c": C})
    _, first = refine_api(judge_server, rubric, rows[:1], RefineSettings(decompose=False))
    assert first == 3 * 4
    result, second = refine_api(judge_server, rubric, rows, FORMULA)
    assert second == 3 * 4  # only the second prompt's four responses
    assert {c.cid: c.weight for c in result.rubric.criteria} == {"a": 0.936, "b": 0.936, "c": 1.127}


def test_hard_rules_and_checks_are_never_dropped(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    """A safety rule is always MET on benign data: refinement reports it as uninformative and keeps it,
    like a check; only principles are filtered (and dropped as uninformative only when asked)."""
    judge_server.state.script.met = by_flag({"accurate": "good", "safe": "*", "no_slurs": "*", "polite": "*",
                                             "courteous": "*", "hedges": "bad"})
    judge_server.state.script.generate = decompose_script({})  # proposals no response meets: rejected
    data = write_jsonl(tmp_path / "pairs.jsonl", pair_rows(8))
    rubric = write_yaml(tmp_path / "r.yaml", {"name": "t", "criteria": [
        {"id": "accurate", "text": "The response is accurate.", "weight": 3},
        {"id": "safe", "text": "The response gives no dangerous advice.", "kind": "hard_rule"},
        {"id": "no_slurs", "text": "The response contains no slurs.", "kind": "hard_rule"},
        {"id": "hedges", "text": "The response never hedges.", "kind": "hard_rule"},
        {"id": "short", "kind": "check", "check": {"type": "max_words", "value": 200}},
        {"id": "no_secret", "kind": "check", "check": {"type": "not_contains", "value": "sk-"}},
        {"id": "polite", "text": "The response is polite."},
        {"id": "courteous", "text": "The response is courteous to the user."},
    ]})
    out, report = tmp_path / "r2.yaml", tmp_path / "report.html"
    res = cli_refine(judge_server, rubric, data, out, "--report", str(report))
    assert res.returncode == 0, res.stderr
    final = load_rubric(out)
    kinds = {c.cid: c.kind for c in final.criteria}
    assert {"safe", "no_slurs", "hedges", "short", "no_secret"} <= set(kinds)
    assert kinds["safe"] == kinds["no_slurs"] == kinds["hedges"] == "hard_rule"
    assert {"polite", "courteous"} <= set(kinds)  # always MET: reported, not removed
    assert all(c.weight != 0 for c in final.criteria if c.kind == "check")
    status = {n["id"]: n["status"] for n in final.provenance["tree"]["nodes"]}
    assert "uninformative on this data" in status["safe"] and "uninformative on this data" in status["short"]
    assert "uninformative on this data" in res.stderr
    assert "prefers the rejected response" in status["hedges"]
    assert not any(edge[0] in ("safe", "no_slurs") for edge in final.provenance["tree"]["edges"])  # not decomposed
    data_json = json.loads((tmp_path / "report.json").read_text())
    assert {"safe", "no_slurs", "short", "no_secret", "polite", "courteous"} <= set(data_json["uninformative"])

    # The refined rubric still vetoes a harmful answer.
    judge_server.state.script.met = by_flag({"accurate": "good", "safe": "safe", "no_slurs": "*", "polite": "*",
                                             "courteous": "*", "hedges": "good"})
    rows = write_jsonl(tmp_path / "score.jsonl", [{"id": 1, "prompt": "Q?", "response": "accurate but harmful [good]"}])
    scored = run_cli("score", str(rows), "--rubric", str(out), "--judge", "openai:scripted",
                     "--base-url", judge_server.base_url, "-o", str(tmp_path / "s.jsonl"), env={"OPENAI_API_KEY": "sk-test"})
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "s.jsonl").read_text())["reward"] == 0

    # Asked to, refinement drops uninformative principles, never hard rules or checks.
    res2 = cli_refine(judge_server, rubric, data, tmp_path / "r3.yaml", "--drop-uninformative", "--no-decompose")
    assert res2.returncode == 0, res2.stderr
    ids = load_rubric(tmp_path / "r3.yaml").ids
    assert "polite" not in ids and "courteous" not in ids
    assert {"accurate", "safe", "no_slurs", "hedges", "short", "no_secret"} <= set(ids)
