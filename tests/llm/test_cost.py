"""Costs and spending limits: list prices of hosted models, --max-calls and --max-cost stopping a
run cleanly (finished rows kept, exit 3) and --resume finishing it, against the scripted HTTP judge."""

from __future__ import annotations

import math
import re
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest

from judgekit import Judge
from judgekit.errors import InputError, LimitReached
from judgekit.llm.pricing import pricing_for
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from tests.helpers import read_jsonl, run_cli, write_jsonl

# The scripted server reports 100 prompt and 20 completion tokens per call; gpt-4o-mini's list price
# is $0.15 per million input and $0.60 per million output tokens.
GPT_4O_MINI_PER_CALL = Decimal("0.000015") + Decimal("0.000012")


def test_hosted_models_are_priced_and_local_ones_are_not():
    assert pricing_for("openai:gpt-4o-mini").prices is not None
    assert pricing_for("openai:gpt-4o-mini").prices.cost(1_000_000, 1_000_000) == Decimal("0.75")
    assert pricing_for("anthropic:claude-sonnet-4-5").prices is not None
    for spec, words in [("local", "own hardware"), ("vllm:Qwen/Qwen3-8B", "own hardware"),
                        ("openai:Qwen/Qwen3-8B", "no price known")]:
        pricing = pricing_for(spec)
        assert pricing.prices is None and words in (pricing.reason or ""), spec


def test_a_judge_adds_up_its_calls_at_list_price(judge_server):
    judge = Judge("openai:gpt-4o-mini", base_url=judge_server.base_url, api_key="sk-test")
    judge.score([{"prompt": "q", "response": f"yes {i}"} for i in range(3)], _rubric())
    assert judge.stats.calls == 6
    assert judge.cost_usd == pytest.approx(float(6 * GPT_4O_MINI_PER_CALL))
    unpriced = Judge("openai:my-local-model", base_url=judge_server.base_url, api_key="sk-test")
    unpriced.score([{"prompt": "q", "response": "yes"}], _rubric())
    assert unpriced.cost_usd is None


def test_max_calls_stops_the_python_api_with_limit_reached(judge_server):
    judge = Judge("openai:m", base_url=judge_server.base_url, api_key="sk-test", max_calls=3, concurrency=1)
    with pytest.raises(LimitReached, match="--max-calls 3"):
        judge.score([{"prompt": "q", "response": f"yes {i}"} for i in range(3)], _rubric())
    assert judge.stats.calls == 3


def test_max_cost_needs_a_priced_model():
    with pytest.raises(InputError, match="'max_cost' needs a priced model"):
        Judge("local", max_cost=1.0)


@pytest.mark.parametrize("limit", [["--max-calls", "5"], ["--max-cost", "0.00006"]])
def test_a_limit_stops_the_run_keeping_whole_rows_and_resume_finishes(judge_server, rubric, tmp_path, limit):
    judge_server.state.script = Script(met=lambda cid, r: r.startswith("yes"))
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": "q", "response": f"yes {i}"} for i in range(6)])
    out = tmp_path / "out.jsonl"
    args = ["score", str(data), "--rubric", str(rubric), "--judge", "openai:gpt-4o-mini", "--base-url",
            judge_server.base_url, "-o", str(out), "--concurrency", "1"]
    proc = run_cli(*args, *limit)
    assert proc.returncode == 3, proc.stderr
    assert f"stopped at {limit[0]}" in proc.stderr and "--resume" in proc.stderr and "Traceback" not in proc.stderr
    # 2 criteria per row, one call at a time: 5 calls finish 2 rows (the 5th call's row is not
    # written); $0.00006 is passed after the 3rd call ($0.000081), so 1 row is finished.
    kept = read_jsonl(out)
    assert [r["id"] for r in kept] == (["x0", "x1"] if limit[0] == "--max-calls" else ["x0"])
    assert all(r["reward"] == 1.0 for r in kept)
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [r["id"] for r in read_jsonl(out)] == [f"x{i}" for i in range(6)]
    assert "cost: $" in resumed.stderr and "per row" in resumed.stderr


def _summary_at_the_limit(stderr: str) -> tuple[int, str]:
    """The calls and the cost line of the summary a stopped run printed (before its last line, the reason)."""
    assert "stopped: " in stderr and "Traceback" not in stderr, stderr
    assert stderr.rstrip().splitlines()[-1].startswith("error: stopped at --max-cost"), stderr
    calls = int(re.search(r"judge calls: (\d+)", stderr).group(1))  # type: ignore[union-attr]
    tokens = re.search(r"tokens: (\d+) prompt \+ (\d+) completion", stderr)
    assert tokens is not None and (int(tokens.group(1)), int(tokens.group(2))) == (100 * calls, 20 * calls), stderr
    return calls, re.search(r"cost: (\S+)", stderr).group(1)  # type: ignore[union-attr]


def _limited_run(tmp_path: Path, rubric: Path, judge: list[str], concurrency: int, max_cost: str) -> tuple[int, str]:
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "q", "response": f"yes {i}"} for i in range(300)])
    proc = run_cli("score", str(data), "--rubric", str(rubric), *judge, "--no-cache", "--concurrency", str(concurrency),
                   "--max-cost", max_cost, "-o", str(tmp_path / "out.jsonl"))
    assert proc.returncode == 3, proc.stderr
    return _summary_at_the_limit(proc.stderr)


def test_at_a_cost_limit_every_call_the_server_answered_is_counted_and_priced(tmp_path, rubric):
    # 64 calls in flight at once against a 200 ms judge: when the spending passes the limit, the calls
    # in flight are answered too; the summary counts and prices each of them.
    with ScriptedJudgeServer(ServerState(latency=0.2, record=False)) as server:
        calls, cost = _limited_run(tmp_path, rubric, ["--judge", "openai:gpt-4o-mini", "--base-url", server.base_url],
                                   64, "0.002")
        answered = server.state.count
    assert calls == answered
    assert cost == f"${answered * GPT_4O_MINI_PER_CALL:.4f}"
    to_the_limit = math.ceil(Decimal("0.002") / GPT_4O_MINI_PER_CALL)
    assert to_the_limit < answered <= to_the_limit + 64  # passed by at most the calls in flight


def test_a_panel_shares_one_budget_and_one_set_of_call_slots(tmp_path, rubric):
    # Three judges, --concurrency 16: 16 calls in flight for the whole panel, not 16 per judge.
    with ExitStack() as stack:
        servers = [stack.enter_context(ScriptedJudgeServer(ServerState(latency=0.2, record=False))) for _ in range(3)]
        panel = tmp_path / "panel.yaml"
        panel.write_text("judges:\n" + "".join(f"  - {{judge: openai:gpt-4o-mini, base_url: '{s.base_url}'}}\n" for s in servers))
        calls, cost = _limited_run(tmp_path, rubric, ["--panel", str(panel)], 16, "0.001")
        answered = sum(s.state.count for s in servers)
    assert calls == answered and cost == f"${answered * GPT_4O_MINI_PER_CALL:.4f}"
    to_the_limit = math.ceil(Decimal("0.001") / GPT_4O_MINI_PER_CALL)
    assert to_the_limit < answered <= to_the_limit + 16


@pytest.mark.parametrize("args, words", [
    (["--max-cost", "-1"], "--max-cost"),
    (["--max-calls", "0"], "--max-calls"),
    (["--judge", "local", "--max-cost", "1"], "--max-cost needs a priced model"),
])
def test_bad_limits_are_exit_2_naming_the_option(rubric, tmp_path, args, words):
    data = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "q", "response": "r"}])
    proc = run_cli("score", str(data), "--rubric", str(rubric), *args)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_an_unpriced_judge_says_its_cost_is_unknown(judge_server, rubric, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "q", "response": "r"}])
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url)
    assert proc.returncode == 0, proc.stderr
    assert "cost: unknown (no price known for 'openai:m'" in proc.stderr


def _rubric():
    from judgekit import Rubric

    return Rubric.model_validate({"name": "t", "criteria": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]})
