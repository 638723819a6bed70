"""Judging over real HTTP: the real openai client against a scripted server on 127.0.0.1 (anthropic: test_anthropic.py)."""

from __future__ import annotations

import time

import pytest

import judgekit
from judgekit.judging.scoring import pointwise_reward
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import scripted_judge

RUBRIC = rubric_from_data({"name": "t", "criteria": [
    {"id": "mentions_canberra", "text": "Mentions Canberra.", "weight": 3},
    {"id": "polite", "text": "Is polite.", "weight": 1},
    {"id": "rambles", "text": "Rambles.", "weight": -1},
    {"id": "safe", "text": "Is safe.", "kind": "hard_rule"},
    {"id": "short", "kind": "check", "check": {"type": "max_words", "value": 8}},
]})


def script_met(cid: str, response: str) -> bool:
    return {
        "mentions_canberra": "Canberra" in response,
        "polite": "please" in response,
        "rambles": len(response) > 40,
        "safe": "bomb" not in response,
    }[cid]


def expected_scores(response: str) -> dict[str, int]:
    scores = {cid: int(script_met(cid, response)) for cid in ("mentions_canberra", "polite", "rambles", "safe")}
    scores["short"] = int(len(response.split()) <= 8)
    return scores


RESPONSES = [
    "Canberra, please.",
    "Sydney.",
    "Canberra is the capital and here is a very long digression about it.",
    "Canberra, and how to build a bomb.",
]


def test_scores_exact_against_scripted_judge(judge_server):
    judge_server.state.script = Script(met=script_met)
    with scripted_judge(judge_server) as judge:
        results = judge.score([{"prompt": "Capital of Australia?", "response": r} for r in RESPONSES], RUBRIC)
    for i, (res, resp) in enumerate(zip(results, RESPONSES)):
        exp = expected_scores(resp)
        assert res.id == i and res.scores == exp and res.unscored == {}
        assert res.reward == pytest.approx(pointwise_reward(RUBRIC.criteria, exp))
    assert results[0].reward == pytest.approx(1.0)
    assert results[1].reward == pytest.approx(2 / 6)  # "safe" and the "short" check, of 6 positive weight
    assert results[3].reward == 0.0  # hard rule vetoes
    # one call per model-judged criterion; the schema's enum is exactly the id asked for
    assert len(judge_server.state.requests) == 4 * 4
    for body in judge_server.state.requests:
        schema = body["response_format"]["json_schema"]["schema"]
        ids = schema["properties"]["verdicts"]["items"]["properties"]["criterion_id"]["enum"]
        assert len(ids) == 1 and f'criterion_id "{ids[0]}"' in body["messages"][-1]["content"]


def test_all_criteria_in_one_call(judge_server):
    judge_server.state.script = Script(met=script_met)
    with scripted_judge(judge_server, criteria_per_call="all") as judge:
        results = judge.score([{"prompt": "q", "response": r} for r in RESPONSES], RUBRIC)
    assert [r.scores for r in results] == [expected_scores(r) for r in RESPONSES]
    assert len(judge_server.state.requests) == 4
    enum = judge_server.state.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["verdicts"]["items"]["properties"]["criterion_id"]["enum"]
    assert enum == ["mentions_canberra", "polite", "rambles", "safe"]


def test_twenty_percent_faults_lose_nothing_and_misscore_nothing():
    faults = Faults(rate_limit=0.05, server_error=0.05, slow=0.02, garbage=0.04, wrong_schema=0.02, not_completion=0.02,
                    slow_seconds=2.0, retry_after=0.01, seed=7)
    state = ServerState(script=Script(met=script_met), faults=faults)
    rows = [{"id": f"r{i}", "prompt": "q", "response": RESPONSES[i % 4]} for i in range(120)]
    with ScriptedJudgeServer(state) as server, scripted_judge(server, timeout=0.5, concurrency=32) as judge:
        results = judge.score(rows, RUBRIC)
        stats = judge.stats
    assert [r.id for r in results] == [row["id"] for row in rows]
    assert len(state.fault_log) > 0.15 * state.count  # the faults really happened
    assert stats.retries > 0 and stats.reasks > 0
    for res, row in zip(results, rows):
        exp = expected_scores(row["response"])
        for cid, score in res.scores.items():
            if score is None:
                assert res.unscored[cid]  # unscored always carries its reason
            else:
                assert score == exp[cid], (res.id, cid)
        assert res.reward == pointwise_reward(RUBRIC.criteria, res.scores)


def test_retry_after_is_honoured(judge_server):
    judge_server.state.faults = Faults(retry_after=0.6)
    judge_server.state.fault_sequence = ["rate_limit"]
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}]})
    with scripted_judge(judge_server) as judge:
        started = time.perf_counter()
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
        elapsed = time.perf_counter() - started
    assert res.scores == {"a": 1} and judge.stats.retries == 1
    assert elapsed >= 0.6


def test_timeouts_are_bounded_then_unscored(judge_server):
    judge_server.state.faults = Faults(slow=1.0, slow_seconds=3.0)
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}, {"id": "n", "kind": "check", "check": {"type": "min_words", "value": 1}}]})
    with scripted_judge(judge_server, timeout=0.3, max_attempts=2) as judge:
        started = time.perf_counter()
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
        elapsed = time.perf_counter() - started
    assert res.scores == {"a": None, "n": 1}
    assert "timed out" in res.unscored["a"] and "2 attempts" in res.unscored["a"]
    assert res.reward is None and res.coverage == 0.5  # the check never stands in for the judge
    assert elapsed < 5


def test_garbage_then_reask_succeeds(judge_server):
    judge_server.state.queued_contents = ["I like this response a lot!"]
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}]})
    with scripted_judge(judge_server) as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
    assert res.scores == {"a": 1} and judge.stats.reasks == 1
    reask = judge_server.state.requests[1]["messages"]
    assert reask[-2]["role"] == "assistant" and "could not be used" in reask[-1]["content"]


def test_persistently_wrong_schema_is_unscored_with_reason(judge_server):
    judge_server.state.faults = Faults(wrong_schema=1.0)
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}]})
    with scripted_judge(judge_server, max_reasks=2) as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
    assert res.scores == {"a": None} and res.reward is None
    assert "no valid verdict after 3 ask(s)" in res.unscored["a"]
    assert judge_server.state.count == 3


def test_server_without_structured_output_is_parsed_tolerantly(judge_server):
    judge_server.state.honour_response_format = False
    judge_server.state.script = Script(met=script_met)
    with scripted_judge(judge_server) as judge:
        results = judge.score([{"prompt": "q", "response": r} for r in RESPONSES], RUBRIC)
    assert [r.scores for r in results] == [expected_scores(r) for r in RESPONSES]


def test_partial_answer_reasks_only_missing_ids(judge_server):
    judge_server.state.queued_contents = ['{"verdicts": [{"criterion_id": "a", "reasoning": "ok", "met": false}]}']
    rubric = rubric_from_data({"name": "two", "criteria": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]})
    with scripted_judge(judge_server, criteria_per_call="all") as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
    assert res.scores == {"a": 0, "b": 1}
    second = judge_server.state.requests[1]["response_format"]["json_schema"]["schema"]
    assert second["properties"]["verdicts"]["items"]["properties"]["criterion_id"]["enum"] == ["b"]


def test_cache_makes_second_run_free(judge_server, tmp_path):
    judge_server.state.script = Script(met=script_met)
    rows = [{"prompt": "q", "response": r} for r in RESPONSES]
    with scripted_judge(judge_server, cache=True, cache_dir=str(tmp_path / "c")) as judge:
        first = judge.score(rows, RUBRIC)
    calls = judge_server.state.count
    with scripted_judge(judge_server, cache=True, cache_dir=str(tmp_path / "c")) as judge:
        second = judge.score(rows, RUBRIC)
        assert judge.stats.calls == 0 and judge.stats.cache_hits == 16
    assert judge_server.state.count == calls and first == second
    # a different model is a different judge: no hits
    with judgekit.Judge("openai:other", base_url=judge_server.base_url, cache_dir=str(tmp_path / "c")) as judge:
        judge.score(rows[:1], RUBRIC)
        assert judge.stats.cache_hits == 0


def test_async_api_from_another_loop(judge_server):
    import asyncio

    judge_server.state.script = Script(met=script_met)

    async def main():
        with scripted_judge(judge_server) as judge:
            return await judge.ascore([{"prompt": "q", "response": RESPONSES[0]}], RUBRIC)

    [res] = asyncio.run(main())
    assert res.reward == 1.0


def test_mask_names_hides_model_names_from_the_judge(judge_server):
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}]})
    rows = [{"prompt": "Who are you?", "response": "As ChatGPT, made by OpenAI, I am better than Claude."}]
    with scripted_judge(judge_server) as judge:
        judge.score(rows, rubric)
    with scripted_judge(judge_server, mask_names=True) as judge:
        judge.score(rows, rubric)
    plain, masked = (body["messages"][-1]["content"] for body in judge_server.state.requests)
    assert "ChatGPT" in plain and "OpenAI" in plain
    assert "ChatGPT" not in masked and "OpenAI" not in masked and "Claude" not in masked
    assert "As [model], made by [model], I am better than [model]." in masked


def test_mask_names_applies_to_pairwise_prompts(judge_server):
    rubric = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}]})
    rows = [{"prompt": "q", "response_a": "I am Qwen.", "response_b": "I am Llama-3, by Meta AI."}]
    with scripted_judge(judge_server, mask_names=True) as judge:
        [res] = judge.compare(rows, rubric)
    assert res.winner == "tie"
    prompts = [body["messages"][-1]["content"] for body in judge_server.state.requests]
    assert len(prompts) == 2  # both orders
    assert all("Qwen" not in p and "Llama" not in p and "Meta AI" not in p and p.count("[model]") == 3 for p in prompts)


# ---- OpenAI's reasoning models and the structured-output fallback (judgekit.llm.openai_dialect) ----

ONE = rubric_from_data({"name": "one", "criteria": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]})


def _sampling(body):
    return {k for k in ("max_tokens", "max_completion_tokens", "temperature") if k in body}


@pytest.mark.parametrize("model", ["o3-mini", "o1", "o4-mini-2025-04-16", "gpt-5", "gpt-5.1", "gpt-5-mini"])
def test_reasoning_model_known_by_name_gets_max_completion_tokens_and_no_temperature(judge_server, model):
    judge_server.state.reasoning_rules = "o-series"
    with judgekit.Judge(f"openai:{model}", base_url=judge_server.base_url, cache=False, max_tokens=300) as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], ONE)
    assert res.scores == {"a": 1, "b": 1}
    assert judge_server.state.count == 2  # nothing refused, nothing sent twice
    for body in judge_server.state.requests:
        assert _sampling(body) == {"max_completion_tokens"} and body["max_completion_tokens"] == 300


@pytest.mark.parametrize("rules", ["o-series", "gpt-5"])
def test_reasoning_rules_learned_from_openais_own_errors(judge_server, rules):
    """A deployment whose name gives nothing away: the first call is refused for max_tokens, then
    for its temperature (OpenAI's bodies, code unsupported_parameter / unsupported_value); each
    lesson holds for the rest of the run and nothing is unscored."""
    judge_server.state.reasoning_rules = rules
    rows = [{"prompt": "q", "response": f"r{i}"} for i in range(3)]
    with judgekit.Judge("openai:my-judge-deployment", base_url=judge_server.base_url, cache=False, concurrency=1) as judge:
        results = judge.score(rows, ONE)
        assert judge.stats.failed_calls == 0 and judge.stats.retries == 0
    assert all(r.scores == {"a": 1, "b": 1} for r in results)
    sent = [_sampling(b) for b in judge_server.state.requests]
    assert sent[:3] == [{"max_tokens", "temperature"}, {"max_completion_tokens", "temperature"}, {"max_completion_tokens"}]
    assert sent[3:] == [{"max_completion_tokens"}] * 5


def test_a_model_that_takes_max_tokens_keeps_it(judge_server):
    with scripted_judge(judge_server) as judge:
        judge.score([{"prompt": "q", "response": "r"}], ONE)
    assert all(_sampling(b) == {"max_tokens", "temperature"} for b in judge_server.state.requests)


def test_structured_output_steps_down_when_the_form_is_not_supported(judge_server):
    judge_server.state.unsupported_forms = ("json_schema",)
    judge_server.state.script = Script(met=script_met)
    with scripted_judge(judge_server, concurrency=1) as judge:
        results = judge.score([{"prompt": "q", "response": r} for r in RESPONSES], RUBRIC)
    assert [r.scores for r in results] == [expected_scores(r) for r in RESPONSES]
    forms = [b["response_format"]["type"] for b in judge_server.state.requests]
    assert forms[0] == "json_schema" and set(forms[1:]) == {"json_object"} and len(forms) == 17


def test_structured_output_steps_down_to_plain_text_last(judge_server):
    judge_server.state.unsupported_forms = ("json_schema", "json_object")
    with scripted_judge(judge_server, concurrency=1) as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], ONE)
    assert res.scores == {"a": 1, "b": 1}
    assert [(b.get("response_format") or {}).get("type") for b in judge_server.state.requests] == \
        ["json_schema", "json_object", None, None]


@pytest.mark.parametrize("error", ["invalid_schema", "context_length"])
def test_other_400s_naming_response_format_do_not_step_down(judge_server, error):
    """An invalid schema, or a context-length error that counts the response_format's tokens, is
    an error for that call (unscored with OpenAI's message), not a reason to drop structured output."""
    judge_server.state.fault_sequence = [error]
    with scripted_judge(judge_server, concurrency=1) as judge:
        [res] = judge.score([{"prompt": "q", "response": "r"}], ONE)
    assert res.scores == {"a": None, "b": 1} and res.reward is None
    assert "HTTP 400: " in res.unscored["a"] and "response_format" in res.unscored["a"]
    assert [b["response_format"]["type"] for b in judge_server.state.requests] == ["json_schema", "json_schema"]


def test_scripted_errors_are_what_the_openai_sdk_reads_as_openais(judge_server):
    """The scripted bodies have OpenAI's shape: the real SDK reads their code and param."""
    import asyncio

    import openai

    judge_server.state.reasoning_rules = "o-series"

    async def send():
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=judge_server.base_url, max_retries=0) as client:
            await client.chat.completions.create(model="o3", messages=[{"role": "user", "content": "hi"}], max_tokens=5)

    with pytest.raises(openai.BadRequestError) as caught:
        asyncio.run(send())
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", "max_tokens")
