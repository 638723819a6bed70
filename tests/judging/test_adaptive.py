"""Pair-adaptive criteria (OpenRS PAMR) in compare: written per pair under a meta-rubric, judged in
both orders, recorded in the output row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import judgekit
from judgekit.errors import InputError
from judgekit.rubric.meta import load_meta_rubric
from judgekit.rubric.models import Rubric
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import RUBRICS, run_cli

META = RUBRICS / "meta" / "pairwise.yaml"
PAIRS = [{"id": "p1", "prompt": "What is 2+2? Answer in one word.", "response_a": "4", "response_b": "Five, I believe."}]


def _writer(body: dict[str, Any]) -> dict[str, Any]:
    return {"criteria": [
        {"category": "correctness", "text": "The response gives the correct sum, 4."},
        {"category": "instruction_following", "text": "The response answers in one word."},
        {"category": "clarity", "text": "Response A is more direct than the second one."},  # positional: dropped
        {"category": "safety", "text": "The response contains no harmful content."},
    ]}


def _prefer(c: str, a: str, b: str) -> str:
    return "A" if a.strip() == "4" else "B" if b.strip() == "4" else "tie"


def test_compare_with_adaptive_criteria_records_them_in_the_row(tmp_path: Path) -> None:
    state = ServerState(script=Script(prefer=_prefer, met=lambda c, r: True, generate=_writer))
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PAIRS), encoding="utf-8")
    with ScriptedJudgeServer(state) as server:
        proc = run_cli("compare", str(data), "--adaptive", str(META), "--judge", "openai:judge",
                       "--base-url", server.base_url, "-o", "-")  # no --rubric: the written criteria only
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    kept = [c for c in row["adaptive_criteria"] if "id" in c]
    dropped = [c for c in row["adaptive_criteria"] if "dropped" in c]
    assert [(c["category"], c["kind"], c["weight"]) for c in kept] == [
        ("correctness", "principle", 3.0), ("instruction_following", "principle", 3.0), ("safety", "hard_rule", 1.0)]
    assert dropped == [{"text": "Response A is more direct than the second one.", "category": "clarity",
                        "dropped": "names a response by its position"}]
    assert set(row["preferences"]) == {c["id"] for c in kept}
    assert row["winner"] == "A" and row["preferences"][kept[0]["id"]] == 1
    # 1 writing call + 2 principles x 2 orders + 1 hard rule x 2 sides
    assert len(state.requests) == 1 + 4 + 2
    writing = state.requests[0]
    assert "criteria" in json.dumps(writing["response_format"]) and "correctness" in writing["messages"][0]["content"]


def test_adaptive_criteria_join_a_fixed_rubric_and_skip_its_duplicates() -> None:
    state = ServerState(script=Script(prefer=_prefer, generate=_writer))
    rubric = Rubric(name="r", criteria=[{"id": "correct", "text": "The response gives the correct sum, 4."}])
    with ScriptedJudgeServer(state) as server, judgekit.Judge("openai:judge", base_url=server.base_url, cache=False) as judge:
        [result] = judge.compare(PAIRS, rubric, adaptive=load_meta_rubric(META))
    ids = list(result.preferences)
    assert ids[0] == "correct" and len(ids) == 3  # the repeated correctness criterion is dropped
    assert any(c.get("dropped") == "repeats a criterion already present" for c in result.adaptive_criteria or [])


def test_a_failed_writing_step_is_recorded_and_the_rubric_still_judged() -> None:
    state = ServerState(script=Script(prefer=_prefer, generate=lambda body: {"criteria": [{"category": "style", "text": "x"}]}))
    rubric = Rubric(name="r", criteria=[{"id": "correct", "text": "The answer is correct."}])
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, cache=False, max_reasks=1) as judge:
        [result] = judge.compare(PAIRS, rubric, adaptive=META)
    assert result.winner == "A" and list(result.preferences) == ["correct"]
    assert "writing pair criteria failed" in (result.adaptive_criteria or [{}])[0]["error"]


def _compare_with_meta(tmp_path: Path, meta_text: str) -> tuple[Any, Path]:
    meta = tmp_path / "meta.yaml"
    meta.write_text(meta_text, encoding="utf-8")
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps(PAIRS[0]) + "\n", encoding="utf-8")
    proc = run_cli("compare", str(data), "--adaptive", str(meta), "--judge", "openai:x", "--base-url", "http://127.0.0.1:9/v1")
    return proc, meta


def test_a_bad_meta_rubric_exits_2_naming_the_line(tmp_path: Path) -> None:
    proc, meta = _compare_with_meta(tmp_path, "name: m\ncategories:\n  - id: correctness\n    description: right\n    weight: -2\n")
    assert proc.returncode == 2
    assert f"{meta}:5, field 'categories.0.weight'" in proc.stderr and "positive" in proc.stderr


def test_an_error_message_keeps_its_square_brackets(tmp_path: Path) -> None:
    # The console renders markup: an unescaped '[a-z0-9_]' in a message would vanish from it.
    proc, meta = _compare_with_meta(tmp_path, "name: m\ncategories:\n  - id: Bad-Id\n    description: right\n")
    assert proc.returncode == 2
    assert f"{meta}:3, field 'categories.0.id'" in proc.stderr and "^[a-z0-9_]+$" in proc.stderr


def test_a_group_compares_each_pair_on_the_criteria_written_for_it() -> None:
    state = ServerState(script=Script(prefer=_prefer, met=lambda c, r: True, generate=_writer))
    polite = Rubric(name="r", criteria=[{"id": "polite", "text": "The response is polite."}])
    responses = ["4", "Five, I believe.", "Five, I believe.", "six"]  # a repeated response: its pairs written once
    with ScriptedJudgeServer(state) as server, judgekit.Judge("openai:judge", base_url=server.base_url, cache=False) as judge:
        outcome = judge.run(judgekit.rank_group(judge, polite, PAIRS[0]["prompt"], responses, strategy="round_robin",
                                                adaptive=META))
        with pytest.raises(InputError, match="anchor or round_robin"):
            judge.run(judgekit.rank_group(judge, polite, "p", responses, adaptive=META))
    writing = [r for r in state.requests if "correctness" in r["messages"][0]["content"]]
    assert len(writing) == 4  # 6 pairs of 4 distinct (A, B) texts: each written once
    records = outcome.adaptive_criteria or []
    assert [r["pair"] for r in records] == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert all([c["category"] for c in r["criteria"] if "id" in c] == ["correctness", "instruction_following", "safety"]
               for r in records)
    assert outcome.rewards[0] == max(outcome.rewards) and outcome.rewards[0] > outcome.rewards[1]  # the correct sum wins


def _rank_args(data: Path, meta: Path, base_url: str, out: Path, *more: str) -> list[str]:
    return ["rank", str(data), "--adaptive", str(meta), "--judge", "openai:judge", "--base-url", base_url,
            "-o", str(out), "--no-cache", "--concurrency", "1", *more]


def test_rank_writes_criteria_per_pair_records_them_and_resumes_only_under_the_same_meta_rubric(tmp_path: Path) -> None:
    state = ServerState(script=Script(prefer=_prefer, met=lambda c, r: True, generate=_writer))
    groups = [{"id": f"g{i}", "prompt": PAIRS[0]["prompt"], "responses": ["Five, I believe.", "4", "six"]} for i in range(3)]
    data = tmp_path / "groups.jsonl"
    data.write_text("".join(json.dumps(g) + "\n" for g in groups), encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(META.read_text(encoding="utf-8").replace("name: pairwise-adaptive", "name: other"), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with ScriptedJudgeServer(state) as server:
        proc = run_cli(*_rank_args(data, META, server.base_url, out, "--strategy", "round_robin", "--max-calls", "30"))
        assert proc.returncode == 3, proc.stderr  # stopped at the limit: a partial output to resume
        refused = run_cli(*_rank_args(data, other, server.base_url, out, "--strategy", "round_robin", "--resume"))
        assert refused.returncode == 2 and "adaptive" in refused.stderr, refused.stderr
        done = run_cli(*_rank_args(data, META, server.base_url, out, "--strategy", "round_robin", "--resume"))
        assert done.returncode == 0, done.stderr
        anchored = run_cli(*_rank_args(data, META, server.base_url, tmp_path / "a.jsonl", "--strategy", "anchor",
                                       "--anchor-index", "1"))
        assert anchored.returncode == 0, anchored.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["g0", "g1", "g2"]
    for row in rows:  # no --rubric: the written criteria alone rank the group, the correct sum first
        assert row["rewards"][1] == max(row["rewards"]) and row["rewards"][1] > row["rewards"][0]
        assert [r["pair"] for r in row["adaptive_criteria"]] == [[0, 1], [0, 2], [1, 2]]
        assert all(any(c.get("category") == "correctness" for c in r["criteria"]) for r in row["adaptive_criteria"])
    anchor_row = json.loads((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert [r["pair"] for r in anchor_row["adaptive_criteria"]] == [[0, 1], [2, 1]]
    assert anchor_row["rewards"][0] < 0.5 and anchor_row["rewards"][2] < 0.5


def test_rank_pointwise_with_adaptive_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "groups.jsonl"
    data.write_text(json.dumps({"prompt": "p", "responses": ["a", "b"]}) + "\n", encoding="utf-8")
    proc = run_cli("rank", str(data), "--adaptive", str(META), "--judge", "openai:x", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "--strategy anchor or round_robin" in proc.stderr and "Traceback" not in proc.stderr
