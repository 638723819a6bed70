"""Group rewards (`judgekit rank`, judgekit.judging.ranking.rank_group) against the scripted HTTP judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgekit.errors import InputError
from judgekit.judge import rank_group, rank_group_with
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, Script
from tests.helpers import RUBRICS, run_cli, scripted_judge

RUBRIC = rubric_from_data({"name": "g", "criteria": [
    {"id": "quality", "text": "The response is good.", "weight": 2},
    {"id": "style", "text": "The response is well written.", "weight": 1},
]})
K = 2


def _level(text: str) -> int:
    return int(text.split("level ")[1][0])


def _by_level(cid: str, a: str, b: str) -> str:
    la, lb = _level(a), _level(b)
    return "A" if la > lb else "B" if lb > la else "tie"


RESPONSES = ["level 1 answer", "level 3 answer", "level 2 answer", "level 0 answer"]


def test_pointwise_strategy(judge_server) -> None:
    judge_server.state.script = Script(met=lambda cid, r: _level(r) >= (2 if cid == "quality" else 1))
    with scripted_judge(judge_server) as judge:
        out = judge.run(rank_group(judge, RUBRIC, "q", RESPONSES, strategy="pointwise"))
    assert out.rewards == pytest.approx([1 / 3, 1.0, 1.0, 0.0])
    assert out.scores is not None and out.scores[0] == {"quality": 0, "style": 1}
    assert out.calls == len(RESPONSES) * K and out.cycles == []


def test_anchor_strategy_against_the_reference(judge_server) -> None:
    judge_server.state.script = Script(prefer=_by_level)
    with scripted_judge(judge_server) as judge:
        out = judge.run(rank_group(judge, RUBRIC, "q", RESPONSES, strategy="anchor", reference="level 2 reference"))
    # vs level 2: worse -> margin -1 -> 0; better -> 1; tie -> 0.5.
    assert out.rewards == [0.0, 1.0, 0.5, 0.0]
    assert out.calls == 2 * K * len(RESPONSES) and out.scores is None


def test_anchor_strategy_against_a_response(judge_server) -> None:
    judge_server.state.script = Script(prefer=_by_level)
    with scripted_judge(judge_server) as judge:
        first = judge.run(rank_group(judge, RUBRIC, "q", RESPONSES, strategy="anchor"))
        second = judge.run(rank_group_with(judge, RUBRIC, "q", RESPONSES, strategy="anchor", anchor_index=2))
    assert first.rewards == [0.5, 1.0, 1.0, 0.0] and first.calls == 2 * K * (len(RESPONSES) - 1)
    assert second.rewards == [0.0, 1.0, 0.5, 0.0]
    with pytest.raises(InputError):
        judge.run(rank_group_with(judge, RUBRIC, "q", RESPONSES, strategy="anchor", anchor_index=9))


def test_round_robin_orders_by_bradley_terry(judge_server) -> None:
    judge_server.state.script = Script(prefer=_by_level)
    n = len(RESPONSES)
    with scripted_judge(judge_server) as judge:
        out = judge.run(rank_group(judge, RUBRIC, "q", RESPONSES, strategy="round_robin"))
    assert len(out.rewards) == n and all(r is not None and 0.0 <= r <= 1.0 for r in out.rewards)
    order = sorted(range(n), key=lambda i: out.rewards[i])  # type: ignore[arg-type,return-value]
    assert order == [3, 0, 2, 1]
    assert out.cycles == []
    assert out.calls == K * n * (n - 1)


def test_round_robin_reports_preference_cycles(judge_server) -> None:
    beats = {("rock", "scissors"), ("scissors", "paper"), ("paper", "rock")}
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A" if (a, b) in beats else "B" if (b, a) in beats else "tie")
    with scripted_judge(judge_server) as judge:
        out = judge.run(rank_group(judge, RUBRIC, "q", ["rock", "paper", "scissors"], strategy="round_robin"))
    assert out.cycles == [[0, 2, 1]]  # rock -> scissors -> paper -> rock
    assert out.rewards == pytest.approx([0.5, 0.5, 0.5])


def test_unknown_strategy_is_an_input_error(judge_server) -> None:
    with scripted_judge(judge_server) as judge, pytest.raises(InputError):
        judge.run(rank_group(judge, RUBRIC, "q", ["a"], strategy="swiss"))


@pytest.mark.parametrize("strategy", ["pointwise", "anchor", "round_robin"])
def test_cli_rank_one_reward_per_response(judge_server, tmp_path: Path, strategy: str) -> None:
    judge_server.state.script = Script(met=lambda cid, r: _level(r) >= 2, prefer=_by_level)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(json.dumps({"name": "g", "criteria": [{"id": c.cid, "text": c.text, "weight": c.weight} for c in RUBRIC.criteria]}))
    data = tmp_path / "groups.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"id": "g1", "prompt": "q", "responses": RESPONSES},
        {"id": "g2", "prompt": "q", "responses": ["level 1 x", "level 2 y"], "reference": "level 1 ref"},
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    proc = run_cli("rank", str(data), "--rubric", str(rubric), "--strategy", strategy, "--judge", "openai:scripted",
                   "--base-url", judge_server.base_url, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["g1", "g2"]
    assert [len(r["rewards"]) for r in rows] == [4, 2]
    assert all(x is not None and 0.0 <= x <= 1.0 for r in rows for x in r["rewards"])
    assert rows[0]["rewards"][1] > rows[0]["rewards"][3]
    assert ("scores" in rows[0]) == (strategy == "pointwise")
    assert ("cycles" in rows[0]) == (strategy == "round_robin")


def test_cli_rank_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"prompt": "q", "responses": "not a list"}) + "\n")
    proc = run_cli("rank", str(data), "--rubric", str(RUBRICS / "helpfulness.yaml"),
                   "--judge", "openai:scripted", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "bad.jsonl:1" in proc.stderr and "responses" in proc.stderr
    proc = run_cli("rank", str(data), "--rubric", "rubrics/helpfulness.yaml", "--strategy", "swiss",
                   "--judge", "openai:scripted", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "strategy" in proc.stderr


@pytest.mark.parametrize("strategy", ["pointwise", "anchor", "round_robin"])
def test_cli_rank_failing_judge_gives_null_rewards(judge_server, tmp_path: Path, strategy: str) -> None:
    judge_server.state.faults = Faults(server_error=1.0)
    judge_server.state.__post_init__()
    data = tmp_path / "groups.jsonl"
    data.write_text(json.dumps({"id": "g1", "prompt": "q", "responses": ["short", "a short one", "tiny"]}) + "\n")
    out = tmp_path / "out.jsonl"
    helpfulness = RUBRICS / "helpfulness.yaml"
    proc = run_cli("rank", str(data), "--rubric", str(helpfulness), "--strategy", strategy, "--judge", "openai:scripted",
                   "--base-url", judge_server.base_url, "--max-attempts", "1", "--no-cache", "-o", str(out))
    assert proc.returncode == 1, proc.stderr  # every judge call failed
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["rewards"] == [None, None, None]  # anchor: not even the anchor's own 0.5
    assert "rows without a reward: 1" in proc.stderr
    if strategy == "pointwise":
        assert len(row["coverage"]) == 3 and all(0.0 <= c < 1.0 for c in row["coverage"])
    else:
        assert "coverage" not in row


def test_cli_rank_pointwise_rows_carry_coverage(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(met=lambda cid, r: True)
    rubric = tmp_path / "r.yaml"
    rubric.write_text("name: g\ncriteria:\n  - id: a\n    text: Good.\n    weight: 3\n"
                      "  - id: same\n    kind: check\n    check: {type: equals_reference}\n")
    data = tmp_path / "groups.jsonl"
    data.write_text(json.dumps({"id": 1, "prompt": "q", "responses": ["x", "y"]}) + "\n")
    args = ("rank", str(data), "--rubric", str(rubric), "--judge", "openai:scripted", "--base-url", judge_server.base_url, "-o", "-")
    row = json.loads(run_cli(*args).stdout)
    assert row["rewards"] == [None, None] and row["coverage"] == [0.75, 0.75]
    assert json.loads(run_cli(*args, "--min-coverage", "0.7").stdout)["rewards"] == [1.0, 1.0]
