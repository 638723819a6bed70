"""The `anthropic:` judge: the real anthropic SDK (2.x) against the scripted server's /v1/messages on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

import judgekit
from judgekit.llm import anthropic_backend
from judgekit.llm.anthropic_backend import AnthropicBackend
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from judgekit.testing.server import THINKING

KEY = "sk-ant-test-123456"
RUBRIC = rubric_from_data({"name": "t", "criteria": [
    {"id": "mentions_canberra", "text": "Mentions Canberra.", "weight": 3},
    {"id": "polite", "text": "Is polite.", "weight": 1},
]})
ROWS = [{"prompt": "Capital of Australia?", "response": r} for r in ("Canberra, please.", "Sydney.")]
SCORES = [{"mentions_canberra": 1, "polite": 1}, {"mentions_canberra": 0, "polite": 0}]


def _met(cid: str, response: str) -> bool:
    return ("Canberra" in response) if cid == "mentions_canberra" else ("please" in response)


@pytest.fixture
def server() -> ScriptedJudgeServer:
    with ScriptedJudgeServer(ServerState(script=Script(met=_met))) as running:
        yield running


def _judge(server: ScriptedJudgeServer, **kw: object) -> judgekit.Judge:
    kw.setdefault("cache", False)
    return judgekit.Judge("anthropic:claude-test", base_url=server.root_url, api_key=KEY, **kw)


def test_the_sdk_under_test_is_2x() -> None:
    assert int(anthropic.__version__.split(".")[0]) >= 2
    assert anthropic_backend.SENDS_OUTPUT_CONFIG and not anthropic_backend.SENDS_TEMPERATURE


def test_structured_output_through_output_config(server: ScriptedJudgeServer) -> None:
    with _judge(server) as judge:
        results = judge.score(ROWS, RUBRIC)
    assert [r.scores for r in results] == SCORES
    body = server.state.requests[0]
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["properties"]["verdicts"]["items"]["properties"]["criterion_id"]["enum"]
    assert "tools" not in body and "tool_choice" not in body
    assert "temperature" not in body and body["system"] and all(m["role"] != "system" for m in body["messages"])


def test_a_thinking_model_answers_through_output_config(server: ScriptedJudgeServer) -> None:
    server.state.anthropic_thinking = True  # a forced tool would get the API's 400
    with _judge(server) as judge:
        results = judge.score(ROWS, RUBRIC, explain=True)
    assert [r.scores for r in results] == SCORES
    assert all(THINKING in text for r in results for text in (r.thinking or {}).values())
    assert judge.stats.failed_calls == 0 and judge.stats.calls == len(server.state.requests)


def test_thinking_asked_for_is_sent_with_room_for_the_answer(server: ScriptedJudgeServer) -> None:
    backend = AnthropicBackend("claude-test", base_url=server.root_url, api_key=KEY,
                               thinking={"type": "enabled", "budget_tokens": 2048})
    with judgekit.Judge("anthropic:claude-test", backend=backend, cache=False, max_tokens=512) as judge:
        results = judge.score(ROWS, RUBRIC, explain=True)
    assert [r.scores for r in results] == SCORES
    body = server.state.requests[0]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and body["max_tokens"] == 2048 + 512
    assert "temperature" not in body and "output_config" in body
    assert all(THINKING in text for r in results for text in (r.thinking or {}).values())


def test_without_output_config_the_verdict_tool_is_forced(server: ScriptedJudgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An SDK older than 2.x has no output_config: the forced tool (the real 2.x SDK sends the same request)."""
    monkeypatch.setattr(anthropic_backend, "SENDS_OUTPUT_CONFIG", False)
    with _judge(server) as judge:
        results = judge.score(ROWS, RUBRIC)
    assert [r.scores for r in results] == SCORES
    body = server.state.requests[0]
    assert body["tool_choice"] == {"type": "tool", "name": "record_verdicts"} and "output_config" not in body
    assert body["tools"][0]["input_schema"]["properties"]["verdicts"]["items"]["properties"]["criterion_id"]["enum"]


def test_a_thinking_model_on_the_tool_path_gets_the_tool_unforced(server: ScriptedJudgeServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anthropic_backend, "SENDS_OUTPUT_CONFIG", False)
    server.state.anthropic_thinking = True
    with _judge(server, criteria_per_call="all", concurrency=1) as judge:
        results = judge.score(ROWS, RUBRIC, explain=True)
    assert [r.scores for r in results] == SCORES
    choices = [body["tool_choice"] for body in server.state.requests]
    # refused once with the API's 400, then offered unforced for the rest of the run
    assert choices == [{"type": "tool", "name": "record_verdicts"}, {"type": "auto"}, {"type": "auto"}]
    assert judge.stats.failed_calls == 0 and judge.stats.retries == 0
    assert all(THINKING in text for r in results for text in (r.thinking or {}).values())


def test_the_cache_key_claims_no_temperature_the_sdk_cannot_send(server: ScriptedJudgeServer, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    with _judge(server, cache=True, cache_dir=cache, temperature=0.0) as judge:
        first = judge.score(ROWS, RUBRIC)
    sent = len(server.state.requests)
    with _judge(server, cache=True, cache_dir=cache, temperature=0.7) as judge:
        again = judge.score(ROWS, RUBRIC)
    # the same request went out (2.x sends no temperature), so it is the same cache entry
    assert len(server.state.requests) == sent and judge.stats.cache_hits == sent
    assert [r.scores for r in again] == [r.scores for r in first] == SCORES
    assert all("temperature" not in body for body in server.state.requests)
    # where the temperature is sent (an OpenAI-compatible server), it keys the entry
    with judgekit.Judge("openai:m", base_url=server.base_url, cache_dir=cache, temperature=0.0) as judge:
        judge.score(ROWS, RUBRIC)
    with judgekit.Judge("openai:m", base_url=server.base_url, cache_dir=cache, temperature=0.7) as judge:
        judge.score(ROWS, RUBRIC)
    assert judge.stats.cache_hits == 0


def test_a_schema_the_api_refuses_is_a_clear_failure(server: ScriptedJudgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted API refuses an object schema without additionalProperties: false, as the real one
    does; the SDK's transform_schema is what makes judgekit's schemas pass."""
    monkeypatch.setattr(anthropic, "transform_schema", lambda schema: {**schema, "additionalProperties": True})
    with _judge(server, max_attempts=3) as judge:
        [res] = judge.score(ROWS[:1], RUBRIC)
    assert res.reward is None and all("HTTP 400" in why and "additionalProperties" in why for why in res.unscored.values())
    assert judge.stats.retries == 0
