"""Several servers of one judge (`base_url` a list): least outstanding requests, a failing server set
aside, per-server counts. Three scripted servers over real HTTP: fast, slow, failing every call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

import judgekit
from judgekit.errors import InputError
from judgekit.llm import balance
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, ScriptedJudgeServer, ServerState

RUBRIC = rubric_from_data({"name": "two", "criteria": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]})


@pytest.fixture
def three_servers() -> Iterator[tuple[ScriptedJudgeServer, ScriptedJudgeServer, ScriptedJudgeServer]]:
    with ExitStack() as stack:
        fast = stack.enter_context(ScriptedJudgeServer(ServerState(latency=0.0)))
        slow = stack.enter_context(ScriptedJudgeServer(ServerState(latency=0.3)))
        failing = stack.enter_context(ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))))
        yield fast, slow, failing


def test_calls_go_to_the_least_busy_server_and_a_failing_one_is_set_aside(three_servers):
    fast, slow, failing = three_servers
    rows = [{"id": i, "prompt": "q", "response": f"r{i}"} for i in range(60)]
    urls = [fast.base_url, slow.base_url, failing.base_url]
    with judgekit.Judge("openai:scripted", base_url=urls, cache=False, concurrency=8) as judge:
        results = judge.score(rows, RUBRIC)
        usage = {u["base_url"]: u for u in judge.server_usage()}
        stats = judge.stats
    assert [r.reward for r in results] == [1.0] * 60 and all(not r.unscored for r in results)
    # each server's count is what it received
    assert [usage[u]["calls"] for u in urls] == [fast.state.count, slow.state.count, failing.state.count]
    assert usage[failing.base_url]["failed"] == failing.state.count and usage[failing.base_url]["set_aside"] >= 1
    assert "HTTP 500" in usage[failing.base_url]["last_error"]
    # the failing server got a few calls before it was set aside, each retried elsewhere
    assert failing.state.count <= balance.SET_ASIDE_AFTER + 8 and stats.retries == failing.state.count
    # least outstanding requests: the fast server answers most; the slow one some
    assert fast.state.count > 3 * slow.state.count and slow.state.count >= 1
    assert fast.state.count + slow.state.count == 120


def test_a_server_set_aside_is_tried_again_after_its_cooldown(three_servers, monkeypatch):
    fast, _, failing = three_servers
    # A slow machine can run out the first cooldown during the first batch; the trial then fails and
    # doubles the next one. Capping it keeps every cooldown shorter than the wait below.
    monkeypatch.setattr(balance, "COOLDOWN_S", 0.2)
    monkeypatch.setattr(balance, "MAX_COOLDOWN_S", 0.2)
    with judgekit.Judge("openai:scripted", base_url=[fast.base_url, failing.base_url], cache=False, concurrency=1) as judge:
        judge.score([{"prompt": "q", "response": "r"}] * 3, RUBRIC)
        failed_before = failing.state.count
        assert failed_before >= balance.SET_ASIDE_AFTER  # (and a trial each time its cooldown ran out)
        failing.state.faults = Faults()  # the server recovers
        time.sleep(0.3)
        judge.score([{"prompt": "q", "response": f"again {i}"} for i in range(8)], RUBRIC)
        usage = judge.server_usage()
    assert failing.state.count > failed_before + 1  # tried again, and back in the rotation after a success
    assert usage[1]["set_aside"] >= 1


def test_all_servers_down_every_call_unscored_with_each_servers_reason(three_servers):
    _, _, failing = three_servers
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0))) as failing2:
        urls = [failing.base_url, failing2.base_url, "http://127.0.0.1:9/v1"]
        with judgekit.Judge("openai:scripted", base_url=urls, cache=False, concurrency=4, max_attempts=2) as judge:
            results = judge.score([{"prompt": "q", "response": f"r{i}"} for i in range(6)], RUBRIC)
            usage = judge.server_usage()
    assert all(r.reward is None and set(r.unscored) == {"a", "b"} for r in results)
    assert all(u["calls"] and u["failed"] == u["calls"] and u["last_error"] for u in usage)
    assert "connection failed" in usage[2]["last_error"] and "HTTP 500" in usage[0]["last_error"]


@pytest.mark.parametrize("bad", ["localhost:8000/v1", "ftp://host/v1", "http:///v1", "http://host:port/v1"])
def test_an_invalid_url_in_the_list_is_named(bad):
    with pytest.raises(InputError) as caught:
        judgekit.Judge("openai:scripted", base_url=["http://127.0.0.1:8000/v1", bad], cache=False)
    assert repr(bad) in str(caught.value) and "argument 'base_url'" in str(caught.value)


def test_several_servers_are_for_openai_compatible_judges():
    with pytest.raises(InputError, match="openai:"):
        judgekit.Judge("anthropic:claude", base_url=["http://a:1", "http://b:2"], api_key="sk-ant-x", cache=False)
