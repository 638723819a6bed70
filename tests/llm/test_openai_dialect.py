"""Which models get OpenAI's reasoning-model parameters, and which errors mean "this form is not supported"."""

from __future__ import annotations

import json

import pytest

from judgekit.llm.openai_dialect import ServerError, is_reasoning_model, refused_parameter, refuses_form
from judgekit.testing.server import OPENAI_ERRORS, temperature_value_error


@pytest.mark.parametrize("model", ["o1", "o1-mini", "o1-preview", "o3", "o3-mini", "o3-pro", "o4-mini", "o4-mini-2025-04-16",
                                   "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.1", "gpt-5.2-codex", "openai/gpt-5", "GPT-5"])
def test_reasoning_models_by_name(model):
    assert is_reasoning_model(model)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1-mini", "gpt-5-chat-latest", "openai/gpt-oss-120b", "Qwen/Qwen3-8B",
                                   "o1x", "ollama", "scripted", "gpt-50x"])
def test_other_models_by_name(model):
    assert not is_reasoning_model(model)


def _error(status, body):
    return ServerError.parse(status, json.dumps(body) if not isinstance(body, str) else body)


def test_openais_refusals_are_read_from_code_and_param():
    assert refused_parameter(_error(400, OPENAI_ERRORS["max_tokens"])) == "max_tokens"
    assert refused_parameter(_error(400, OPENAI_ERRORS["temperature"])) == "temperature"
    assert refused_parameter(_error(400, temperature_value_error(0.0))) == "temperature"
    assert refused_parameter(_error(400, OPENAI_ERRORS["json_schema"])) is None
    # The same words from a server that does not use OpenAI's codes are not a lesson.
    assert refused_parameter(_error(400, {"error": {"message": OPENAI_ERRORS["max_tokens"]["error"]["message"]}})) is None


@pytest.mark.parametrize(("status", "body"), [
    (400, OPENAI_ERRORS["json_schema"]),
    (400, OPENAI_ERRORS["json_object"]),
    # a proxy that blanks OpenAI's param
    (400, {"error": {"message": OPENAI_ERRORS["json_schema"]["error"]["message"], "type": "invalid_request_error", "param": "", "code": None}}),
    # llama-cpp-python's server: the request model's validation error, wrapped as a 500
    (500, {"error": {"message": "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' or "
                                "'json_object' [type=literal_error, input_value='json_schema', input_type=str]",
                     "type": "internal_server_error", "param": None, "code": None}}),
    # a FastAPI server's 422
    (422, {"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"], "msg": "Input should be 'text' or 'json_object'"}]}),
    (400, {"error": "'response_format.type' must be one of 'json_schema' or 'text'"}),
])
def test_form_refusals(status, body):
    assert refuses_form(_error(status, body))


@pytest.mark.parametrize(("status", "body"), [
    (400, OPENAI_ERRORS["invalid_schema"]),
    (400, OPENAI_ERRORS["context_length"]),
    (400, OPENAI_ERRORS["max_tokens"]),
    (400, {"error": "'response_format.json_schema.schema' must be an object"}),
    (400, {"error": {"message": "Invalid schema for response_format 'x': unsupported keyword 'minLength'", "code": "invalid_json_schema"}}),
    (401, {"error": {"message": "response_format is not supported for this key", "param": "response_format"}}),
    (400, "upstream said: response_format was fine"),
    (429, OPENAI_ERRORS["json_schema"]),
])
def test_not_form_refusals(status, body):
    assert not refuses_form(_error(status, body))


def test_a_body_is_encoded_as_json_dumps_would_with_each_schema_serialized_once():
    from judgekit.llm.base import JudgeRequest
    from judgekit.llm.openai_dialect import Dialect
    from judgekit.protocol.profiles import load_profile

    dialect, profile = Dialect("some-model"), load_profile(None)
    bodies = []
    for ids in (["a"], ["a", "b"], ["a"]):
        request = JudgeRequest(messages=({"role": "user", "content": 'caf\u00e9 "quoted" \u2603'},), mode="pointwise",
                               schema=profile.answer_schema("pointwise", ids), ids=tuple(ids), seed=None)
        body = dialect.body(request)
        assert dialect.encode(body) == json.dumps(body).encode()
        assert json.loads(dialect.encode(body))["response_format"]["json_schema"]["schema"] == request.schema
        bodies.append(body)
    assert bodies[0]["response_format"] is bodies[2]["response_format"]  # the same schema: made once
    assert Dialect.encode({"model": "m", "messages": []}) == b'{"model": "m", "messages": []}'
