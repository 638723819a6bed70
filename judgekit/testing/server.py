"""A scripted judge server for tests, benchmarks and examples: real HTTP on 127.0.0.1.

It speaks the OpenAI chat-completions API and Anthropic's /v1/messages (structured output through
`output_config.format` or a tool, thinking blocks, the API's error bodies), reads
the criterion ids from the request's JSON schema (judgekit.protocol.wire) and the fenced responses from
the prompt, and answers each criterion by a script: `met(cid, response)` or
`prefer(cid, response_a, response_b)`. Faults can be injected: 429 with Retry-After, 500, slow
answers (timeouts), non-JSON and wrong-schema replies, and a body that is not a chat completion.

Needs starlette and uvicorn (the `test` extra). Run standalone for benchmarks:
    python -m judgekit.testing --port 8765 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from judgekit.jsonvalue import JSONObject, JSONValue
from judgekit.testing.native import (
    DEFAULT_GENERATED_RUBRIC,
    GENERATOR_MARKER,
    LABELS,
    native_answer,
    native_mode,
    native_profile,
    native_verdict,
)

# (criterion_id, response) -> met; a rating for a criterion rated on a scale; or "not_applicable"
MetFn = Callable[[str, str], bool | int | str]
PreferFn = Callable[[str, str, str], str]  # (criterion_id, response_a, response_b) -> "A" | "B" | "tie"

_TAG = re.compile(r"<judgekit-(response|response-a|response-b)-([0-9a-f]{12})>\n?(.*?)\n?</judgekit-\1-\2>", re.S)
_IDS_IN_PROMPT = re.compile(r'criterion_id "([a-z0-9_]+)"')


@dataclass
class Faults:
    """Per-request fault probabilities (drawn with a seeded RNG, so runs repeat)."""

    rate_limit: float = 0.0  # 429 with Retry-After
    server_error: float = 0.0  # 500
    slow: float = 0.0  # sleep `slow_seconds` (past the client's timeout)
    garbage: float = 0.0  # 200, content that is not JSON
    wrong_schema: float = 0.0  # 200, JSON that does not follow the schema
    not_completion: float = 0.0  # 200, a body that is not a chat completion
    slow_seconds: float = 5.0
    retry_after: float = 0.01
    seed: int = 0

    @property
    def total(self) -> float:
        return self.rate_limit + self.server_error + self.slow + self.garbage + self.wrong_schema + self.not_completion


OpenAIError = dict[str, dict[str, str | None]]  # {"error": {"message", "type", "param", "code"}}


def _openai_error(message: str, param: str | None, code: str | None) -> OpenAIError:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


# OpenAI's own 400 bodies, word for word, for what a model refuses and for errors that only look
# like it (a schema it finds invalid, a context-length error that mentions response_format).
OPENAI_ERRORS: dict[str, OpenAIError] = {
    "max_tokens": _openai_error(
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        "max_tokens", "unsupported_parameter"),
    "temperature": _openai_error(
        "Unsupported parameter: 'temperature' is not supported with this model.", "temperature", "unsupported_parameter"),
    "json_schema": _openai_error(
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model. Learn more "
        "about supported models at the Structured Outputs guide: https://platform.openai.com/docs/guides/structured-outputs",
        "response_format", None),
    "json_object": _openai_error(
        "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
        "response_format", None),
    "invalid_schema": _openai_error(
        "Invalid schema for response_format 'judge_verdicts': In context=(), 'additionalProperties' is required to be "
        "supplied and to be false.", "response_format", None),
    "context_length": _openai_error(
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens "
        "(including 94 in the response_format schemas.). Please reduce the length of the messages.",
        "messages", "context_length_exceeded"),
}


def temperature_value_error(value: object) -> OpenAIError:
    """gpt-5's answer to a temperature other than its default."""
    return _openai_error(f"Unsupported value: 'temperature' does not support {json.dumps(value)} with this model. "
                         "Only the default (1) value is supported.", "temperature", "unsupported_value")


def refusal(state: ServerState, body: JSONObject) -> OpenAIError | None:
    """The 400 body an OpenAI model with the state's rules answers this request with, if any."""
    if state.reasoning_rules is not None and "max_tokens" in body:
        return OPENAI_ERRORS["max_tokens"]
    if state.reasoning_rules == "o-series" and "temperature" in body:
        return OPENAI_ERRORS["temperature"]
    if state.reasoning_rules == "gpt-5" and body.get("temperature", 1) != 1:
        return temperature_value_error(body["temperature"])
    form = _field(body.get("response_format"), "type")
    return OPENAI_ERRORS[form] if isinstance(form, str) and form in state.unsupported_forms else None


def _field(value: JSONValue, key: str) -> JSONValue:
    """`value[key]` when `value` is an object that has it, else None: how a request's nested fields are read."""
    return value.get(key) if isinstance(value, Mapping) else None


def _objects(value: JSONValue) -> list[JSONObject]:
    """The objects in a list (a request's messages, a schema's items); none when it is not one."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


@dataclass
class Script:
    met: MetFn = lambda cid, response: True
    prefer: PreferFn = lambda cid, a, b: "tie"
    reasoning: str = "scripted"
    # Answers requests whose schema is not the verdict schema (rubric generation, decomposition):
    # called with the request body, returns the JSON object to send back.
    generate: Callable[[JSONObject], Mapping[str, object]] | None = None
    # Answers a rubric-rm generator prompt (the request's user text -> a numbered rubric).
    rubric: Callable[[str], str] = lambda text: DEFAULT_GENERATED_RUBRIC
    # A judge that fails on some responses: a verdict request whose judged response this returns
    # True for is answered 500 (as the server_error fault), every time.
    fails: Callable[[str], bool] = lambda response: False


# ---- judges with known weaknesses (for `judgekit probe`) ------------------------------------------

# What fools each weak judge, on top of a correct answer: a reply with no content (at most 40
# characters, no digit: the master keys), length (200 characters or more), self-praise, and
# instructions to the judge inside the response.
WEAKNESSES: dict[str, Callable[[str], bool]] = {
    "content-free": lambda r: len(r.strip()) <= 40 and not re.search(r"\d", r),
    "length": lambda r: len(r) >= 200,
    "self-praise": lambda r: re.search(r"(?i)\b(meets|satisfies) (every|all)", r) is not None,
    "instructions": lambda r: re.search(r'(?i)\bmark (every|each|all)\b|"met"\s*:\s*true|ignore (the|all|previous)', r) is not None,
}


def probe_script(weakness: str | None, correct: Callable[[str], bool]) -> Script:
    """A judge that marks a response MET when `correct(response)`, or when it has the named weakness's
    trigger (None: an honest judge); in a pair it prefers the side it would mark MET, the weak trigger first."""
    fooled = WEAKNESSES[weakness] if weakness is not None else (lambda r: False)

    def value(response: str) -> int:
        return 2 * fooled(response) + correct(response)

    def prefer(cid: str, a: str, b: str) -> str:
        return "A" if value(a) > value(b) else "B" if value(b) > value(a) else "tie"

    return Script(met=lambda cid, response: value(response) > 0, prefer=prefer)


@dataclass
class ServerState:
    script: Script = field(default_factory=Script)
    faults: Faults = field(default_factory=Faults)
    latency: float = 0.0
    requests: list[JSONObject] = field(default_factory=list)  # each request's body, as received
    headers: list[dict[str, str]] = field(default_factory=list)
    fault_log: list[str] = field(default_factory=list)
    record: bool = True
    honour_response_format: bool = True
    # A list of raw replies to send, in order, before the script takes over (e.g. exact content strings).
    queued_contents: list[str] = field(default_factory=list)
    # Faults to inject first, one per request, in order (then the random ones apply).
    fault_sequence: list[str] = field(default_factory=list)
    # Opt-in soft verdicts: when set and a request asks for logprobs, the reply carries OpenAI-style
    # token log-probabilities; (criterion_id, verdict) -> probability of the verdict token given.
    verdict_probability: SoftFn | None = None
    # Or per judged text: (criterion_id, verdict, fenced texts {"response"} or {"response-a", "response-b"})
    # -> P(that verdict), e.g. a judge unsure of some responses only.
    verdict_confidence: Callable[[str, bool | str, dict[str, str]], float] | None = None
    # Native formats (judgekit.testing.native): a malformed variant to answer with instead of a
    # well-formed answer, for the first `malformed_times` native answers (None: always).
    malformed: str | None = None
    malformed_times: int | None = None
    # Reasoning judges: for a free-text verdict request (no response_format) that is not a
    # follow-up, think first. "field": the thinking in message.reasoning_content (vLLM's reasoning
    # parser); "tags": in <think>...</think> at the start of content. `think_answers`: whether the
    # answer follows the thinking in that reply (else the reply stops at the budget, "length").
    think: str | None = None
    think_answers: bool = False
    # Anthropic: a model that thinks on every request (as with adaptive thinking on by default): its
    # replies start with a thinking block, and a forced tool choice gets the API's 400.
    anthropic_thinking: bool = False
    # Usage from the texts (about 4 characters per token) instead of the fixed 100 + 20.
    estimate_tokens: bool = False
    # A server that echoes the caller's credentials (Authorization or x-api-key header) back:
    # "reasoning" (in each verdict's reasoning), "think" (in a <think> block before the answer),
    # "reasoning_field" (in message.reasoning_content), "error" (in a 401 error body). The header
    # starts at the next of `echo_offsets` (in turn) characters into the echoed text.
    echo: str | None = None
    echo_offsets: list[int] = field(default_factory=lambda: [0])
    echoes: int = 0
    count: int = 0
    # OpenAI's rules for reasoning models, answered with its own error bodies (OPENAI_ERRORS):
    # "o-series" refuses max_tokens and any temperature; "gpt-5" refuses max_tokens and a
    # temperature other than 1.
    reasoning_rules: Literal["o-series", "gpt-5"] | None = None
    # response_format types refused as OpenAI refuses them for models without structured outputs.
    unsupported_forms: tuple[str, ...] = ()
    # False: GET /v1/models answers 404, as on a server that does not list its models.
    serves_models: bool = True

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)

    def draw_fault(self) -> str | None:
        if self.fault_sequence:
            fault = self.fault_sequence.pop(0)
            return fault or None
        f = self.faults
        x = self._rng.random()
        for name in ("rate_limit", "server_error", "slow", "garbage", "wrong_schema", "not_completion"):
            p = getattr(f, name)
            if x < p:
                return name
            x -= p
        return None


def request_schema(body: JSONObject) -> JSONObject | None:
    """The JSON schema a request asks its answer to follow: OpenAI's `response_format`, Anthropic's
    `output_config.format` or its tool's input schema."""
    fmt = body.get("response_format") or _field(body.get("output_config"), "format")
    schema = _field(_field(fmt, "json_schema"), "schema") or _field(fmt, "schema")
    tools = _objects(body.get("tools"))
    if schema is None and tools:
        schema = tools[0].get("input_schema")
    return schema if isinstance(schema, Mapping) else None


def is_verdict_request(body: JSONObject) -> bool:
    """True unless the request carries a schema without the 'verdicts' list (e.g. rubric generation)."""
    schema = request_schema(body)
    properties = _field(schema, "properties")
    return schema is None or (isinstance(properties, Mapping) and "verdicts" in properties)


def answer_object(state: ServerState, body: JSONObject, reasoning: str | None = None) -> Mapping[str, object]:
    """The scripted answer: verdicts (with `reasoning` if given, else the script's), or
    `script.generate(body)` for a non-verdict schema."""
    if state.script.generate is not None and not is_verdict_request(body):
        return state.script.generate(body)
    return verdict_object(state, body, reasoning)


def _verdict_items(schema: JSONObject) -> list[tuple[list[str], str]]:
    """Per verdict item schema (one, or one per verdict form: `anyOf`): its criterion ids, and the
    field their verdict goes in (`met`, `score`, `choice`, `preference`)."""
    items = _field(_field(_field(schema, "properties"), "verdicts"), "items")
    if not isinstance(items, Mapping):  # not a verdict schema: no answer (a 500)
        raise KeyError("the schema has no verdict items")
    out = []
    for item in _objects(_field(items, "anyOf")) or _objects([items]):
        properties = _field(item, "properties")
        ids = _field(_field(properties, "criterion_id"), "enum")
        keys = [k for k in properties if k not in ("criterion_id", "reasoning")] if isinstance(properties, Mapping) else []
        out.append(([cid for cid in ids if isinstance(cid, str)] if isinstance(ids, list) else [], keys[0] if keys else "met"))
    return out


def requested_ids(body: JSONObject) -> list[str]:
    schema = request_schema(body)
    if schema:
        return [cid for ids, _ in _verdict_items(schema) for cid in ids]
    return _IDS_IN_PROMPT.findall(_last_user_text(body))


def verdict_keys(body: JSONObject) -> dict[str, str]:
    """The field each requested id's verdict goes in (`met`, `score`, `preference`), by the schema."""
    schema = request_schema(body)
    if not schema:
        return {}
    return {cid: key for ids, key in _verdict_items(schema) for cid in ids}


def requested_mode(body: JSONObject) -> str:
    text = json.dumps(request_schema(body) or {})
    if "preference" in text:
        return "pairwise"
    if "met" in text or "\"score\"" in text:
        return "pointwise"
    return "pairwise" if "Response B" in _all_text(body) else "pointwise"


def _all_text(body: JSONObject) -> str:
    parts = [content for m in _objects(body.get("messages")) if isinstance(content := m.get("content"), str)]
    if isinstance(system := body.get("system"), str):
        parts.append(system)
    return "\n".join(parts)


def _last_user_text(body: JSONObject) -> str:
    users = [m for m in _objects(body.get("messages")) if m.get("role") == "user"]
    # A re-ask appends a user turn; the responses are in the first user turn.
    content = users[0].get("content") if users else None
    return content if isinstance(content, str) else ""


def judged_texts(body: JSONObject) -> dict[str, str]:
    """The texts a judge request fences, by kind ("prompt", "response", "response-a", ...)."""
    return {kind: text for kind, _, text in _TAG.findall(_last_user_text(body))}


def verdict_object(state: ServerState, body: JSONObject, reasoning: str | None = None) -> dict[str, list[dict[str, object]]]:
    ids = requested_ids(body)
    texts = judged_texts(body)
    verdicts: list[dict[str, object]] = []
    reasoning = state.script.reasoning if reasoning is None else reasoning
    if requested_mode(body) == "pairwise":
        a, b = texts.get("response-a", ""), texts.get("response-b", "")
        for cid in ids:
            verdicts.append({"criterion_id": cid, "reasoning": reasoning, "preference": state.script.prefer(cid, a, b)})
    else:
        response = texts.get("response", "")
        keys = verdict_keys(body)
        for cid in ids:
            key, value = keys.get(cid, "met"), state.script.met(cid, response)
            answer = value if isinstance(value, str) or key == "score" else bool(value)
            verdicts.append({"criterion_id": cid, "reasoning": reasoning, key: answer})
    return {"verdicts": verdicts}


# ---- opt-in token log-probabilities (soft verdicts) ------------------------------------------------

SoftFn = Callable[[str, bool | str], float]  # (criterion_id, verdict: bool | "A" | "B" | "tie") -> P(that verdict)
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
_VERDICT_BEFORE = re.compile(r'"(met|preference)"\s*:\s*"?$')
_CID_BEFORE = re.compile(r'"criterion_id"\s*:\s*"([a-z0-9_]+)"')


class TopLogprob(TypedDict):
    token: str
    logprob: float


class _TokenLogprobBytes(TypedDict, total=False):
    bytes: list[int]  # OpenAI's own entries have them; a native answer's need not


class TokenLogprob(_TokenLogprobBytes):
    token: str
    logprob: float
    top_logprobs: list[TopLogprob]


class _Reasoning(TypedDict, total=False):
    reasoning_content: str  # a reasoning model's thinking (vLLM's reasoning parser)


class ReplyMessage(_Reasoning):
    role: str
    content: str


class _Logprobs(TypedDict, total=False):
    logprobs: dict[str, list[TokenLogprob]]  # {"content": [...]}, when the request asks for them


class Choice(_Logprobs):
    index: int
    message: ReplyMessage
    finish_reason: str


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(TypedDict):
    """An OpenAI chat completion, as the server answers one."""

    id: str
    object: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


def token_logprobs(content: str, probability: SoftFn) -> list[TokenLogprob]:
    """OpenAI `logprobs.content` for a reply: each word/space/punctuation a token with logprob 0,
    except verdict tokens, which get log P(verdict) and the other labels as top_logprobs (sharing
    the rest of the probability)."""
    import math

    out: list[TokenLogprob] = []
    so_far = ""
    for tok in _TOKENS.findall(content):
        entry: TokenLogprob = {"token": tok, "logprob": 0.0, "bytes": list(tok.encode()), "top_logprobs": []}
        verdict = _VERDICT_BEFORE.search(so_far)
        cids = _CID_BEFORE.findall(so_far)
        if verdict and cids and tok[0].isalnum():
            labels = ["true", "false"] if verdict.group(1) == "met" else ["A", "B", "tie"]
            value: bool | str = (tok == "true") if verdict.group(1) == "met" else tok
            p = min(max(float(probability(cids[-1], value)), 1e-6), 1.0)
            rest = (1.0 - p) / (len(labels) - 1)
            entry["logprob"] = math.log(p)
            entry["top_logprobs"] = [TopLogprob(token=tok, logprob=math.log(p)), *(
                TopLogprob(token=other, logprob=math.log(max(rest, 1e-9))) for other in labels if other != tok
            )]
        out.append(entry)
        so_far += tok
    return out


def native_token_logprobs(profile: str, text: str, content: str, probability: SoftFn) -> list[TokenLogprob]:
    """Log-probabilities for a native answer: logprob 0 everywhere but the (last) verdict token,
    which gets P(verdict) from the script and the format's other labels as alternatives."""
    import math

    found = native_verdict(profile, text, content)
    out: list[TokenLogprob] = [{"token": tok, "logprob": 0.0, "top_logprobs": []} for tok in _TOKENS.findall(content)]
    if found is None:
        return out
    criterion, value, token = found
    labels = LABELS[(profile, native_mode(profile, text))]
    p = min(max(float(probability(criterion, value)), 1e-6), 1.0)
    rest = (1.0 - p) / max(1, len(labels) - 1)
    for entry in reversed(out):
        if entry["token"] == token:
            entry["logprob"] = math.log(p)
            entry["top_logprobs"] = [TopLogprob(token=token, logprob=math.log(p)), *(
                TopLogprob(token=other, logprob=math.log(max(rest, 1e-9))) for other in labels if other != token)]
            break
    return out


THINKING = "I weigh the response against the criterion step by step before answering."


def _user_turns(body: JSONObject) -> int:
    return sum(1 for m in _objects(body.get("messages")) if m.get("role") == "user")


def _take_malformed(state: ServerState) -> str | None:
    if state.malformed is None or state.malformed_times == 0:
        return None
    if state.malformed_times is not None:
        state.malformed_times -= 1
    return state.malformed


def _think(reply: ChatCompletion, state: ServerState, answer: str) -> None:
    """Turn a reply into a reasoning model's first-phase reply: thinking, then (maybe) the answer."""
    choice = reply["choices"][0]
    content = answer if state.think_answers else ""
    if state.think == "field":
        choice["message"]["reasoning_content"] = THINKING
    else:
        content = f"<think>\n{THINKING}\n</think>\n{content}"
    choice["message"]["content"] = content
    choice["finish_reason"] = "stop" if state.think_answers else "length"
    reply["usage"]["completion_tokens"] = 200


def echoed_credentials(state: ServerState, headers: Mapping[str, str]) -> str:
    """The request's credentials, `echo_offsets[n]` characters into the text (n-th echo)."""
    credentials = headers.get("authorization", "") or headers.get("x-api-key", "")
    offset = state.echo_offsets[state.echoes % len(state.echo_offsets)]
    state.echoes += 1
    pad = ("the request was sent with " * (offset // 26 + 1))[:offset]
    return f"{pad}{credentials} (as received)"


def _model(body: JSONObject) -> str:
    model = body.get("model")
    return model if isinstance(model, str) else "scripted"


def _completion(content: str, model: str) -> ChatCompletion:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def _broken_chat_reply(fault: str | None, model: str) -> Response | None:
    """The chat faults that still answer 200: prose, a wrong schema, a body that is no completion."""
    if fault == "garbage":
        return JSONResponse(_completion("I think the response is fine overall!", model))
    if fault == "wrong_schema":
        return JSONResponse(_completion(json.dumps({"verdicts": [{"criterion_id": "nope", "met": "maybe"}]}), model))
    if fault == "not_completion":
        return PlainTextResponse("<html>upstream proxy error</html>", status_code=200)
    return None


def chat_reply(state: ServerState, body: JSONObject, echo: str) -> ChatCompletion:
    """The scripted chat completion for a verdict request: a native profile's answer or judgekit's
    JSON, with the logprobs, thinking, echoes and token counts the state asks for."""
    user_text = _last_user_text(body)
    native = native_profile(user_text) if is_verdict_request(body) else None
    if native is not None:
        content = native_answer(native, user_text, state.script.met, state.script.prefer,
                                state.script.reasoning, _take_malformed(state))
    else:
        content = json.dumps(answer_object(state, body, echo if state.echo == "reasoning" else None))
        if not body.get("response_format") or not state.honour_response_format:
            content = f"Here is my evaluation.\n```json\n{content}\n```"
    reply = _completion(content, _model(body))
    probability = state.verdict_probability
    if state.verdict_confidence is not None:
        confidence, texts = state.verdict_confidence, judged_texts(body)
        probability = lambda cid, verdict: confidence(cid, verdict, texts)  # noqa: E731
    if body.get("logprobs") and probability is not None:
        if native is None:
            reply["choices"][0]["logprobs"] = {"content": token_logprobs(content, probability)}
        else:
            reply["choices"][0]["logprobs"] = {"content": native_token_logprobs(native, user_text, content, probability)}
    _dress(reply, state, body, content, echo)
    return reply


def _dress(reply: ChatCompletion, state: ServerState, body: JSONObject, content: str, echo: str) -> None:
    """Thinking (first turn of a two-phase request), echoed credentials and estimated token counts."""
    if state.think is not None and not body.get("response_format") and _user_turns(body) == 1:
        _think(reply, state, content)
    if state.echo == "think":
        reply["choices"][0]["message"]["content"] = f"<think>\n{echo}\n</think>\n{content}"
    elif state.echo == "reasoning_field":
        reply["choices"][0]["message"]["reasoning_content"] = echo
    if state.estimate_tokens:
        reply["usage"]["prompt_tokens"] = max(1, len(_all_text(body)) // 4)
        reply["usage"]["completion_tokens"] = max(1, len(reply["choices"][0]["message"]["content"] or "") // 4)


def _message(body: JSONObject, content: list[Mapping[str, object]], stop_reason: str) -> JSONResponse:
    """An Anthropic /v1/messages reply."""
    return JSONResponse({
        "id": "msg_scripted", "type": "message", "role": "assistant", "model": _model(body),
        "content": content, "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 20},
    })


def _anthropic_error(status: int, kind: str, message: str) -> JSONResponse:
    """An Anthropic API error body."""
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_scripted"},
                        status_code=status)


def _thinks(state: ServerState, body: JSONObject) -> bool:
    """Whether the model thinks on this request: asked to (`thinking`), or always (`anthropic_thinking`)."""
    asked = _field(body.get("thinking"), "type") in ("enabled", "adaptive")
    return state.anthropic_thinking or asked


def _has_loose_object(schema: JSONValue) -> bool:
    """Whether an object schema in it leaves additionalProperties unset or true (the API requires
    false in `output_config.format`)."""
    if isinstance(schema, list):
        return any(_has_loose_object(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    loose = schema.get("type") == "object" and schema.get("additionalProperties") is not False
    return loose or any(_has_loose_object(value) for value in schema.values())


class _Endpoints:
    """The routes, over one ServerState."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def fault_response(self, fault: str | None, request: Request) -> Response | None:
        state = self.state
        if state.echo == "error":
            message = echoed_credentials(state, request.headers)
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=401)
        if fault == "rate_limit":
            return JSONResponse({"error": {"message": "rate limited", "type": "rate_limit"}}, status_code=429,
                                headers={"retry-after": str(state.faults.retry_after)})
        if fault == "server_error":
            # Echo the caller's credentials: judgekit must keep them out of everything it writes.
            auth = request.headers.get("authorization", "") + request.headers.get("x-api-key", "")
            return JSONResponse({"error": {"message": f"internal error for {auth}", "type": "server_error"}}, status_code=500)
        if fault == "slow":
            await asyncio.sleep(state.faults.slow_seconds)
        if fault in OPENAI_ERRORS:  # one of OpenAI's 400s, by name, through fault_sequence
            return JSONResponse(OPENAI_ERRORS[fault], status_code=400)
        return None

    async def receive(self, request: Request) -> JSONObject:
        body: JSONObject = await request.json()
        self.state.count += 1
        if self.state.record:
            self.state.requests.append(body)
            self.state.headers.append(dict(request.headers))
        if self.state.latency:
            await asyncio.sleep(self.state.latency)
        return body

    async def chat(self, request: Request) -> Response:
        state = self.state
        body = await self.receive(request)
        model = _model(body)
        if not body.get("messages"):  # as OpenAI answers a request without messages
            return JSONResponse(_openai_error("[] is too short - 'messages'", "messages", None), status_code=400)
        refused = refusal(state, body)
        if refused is not None:
            return JSONResponse(refused, status_code=400)
        if state.queued_contents:
            return JSONResponse(_completion(state.queued_contents.pop(0), model))
        fault = state.draw_fault()
        if fault is None and state.script.fails(judged_texts(body).get("response", "")):
            fault = "server_error"
        if fault:
            state.fault_log.append(fault)
        early = await self.fault_response(fault, request)
        if early is None:
            early = _broken_chat_reply(fault, model)
        if early is not None:
            return early
        user_text = _last_user_text(body)
        if GENERATOR_MARKER in user_text and not body.get("response_format"):
            return JSONResponse(_completion(state.script.rubric(user_text), model))
        echo = echoed_credentials(state, request.headers) if state.echo else ""
        return JSONResponse(chat_reply(state, body, echo))

    async def messages(self, request: Request) -> Response:
        state = self.state
        body = await self.receive(request)
        early = await self.fault_response(state.draw_fault(), request)
        if early is not None:
            return early
        thinks = _thinks(state, body)
        if thinks and _field(body.get("tool_choice"), "type") in ("tool", "any"):
            return _anthropic_error(400, "invalid_request_error", "Thinking may not be enabled when tool_choice forces tool use.")
        thinking: list[Mapping[str, object]] = [{"type": "thinking", "thinking": THINKING, "signature": "EqQBCkYIARgCKkBzY3JpcHRlZA=="}]
        first = thinking if thinks else []
        fmt = _field(body.get("output_config"), "format")
        if fmt is not None and _has_loose_object(_field(fmt, "schema")):
            return _anthropic_error(400, "invalid_request_error", "output_config.format.schema: For 'object' type, "
                                    "'additionalProperties' must be explicitly set to false")
        echo = echoed_credentials(state, request.headers) if state.echo == "reasoning" else None
        if tools := _objects(body.get("tools")):
            use = {"type": "tool_use", "id": "toolu_01", "name": tools[0].get("name"), "input": answer_object(state, body, echo)}
            return _message(body, [*first, use], "tool_use")
        if fmt is not None:  # structured output: the JSON as the text block
            return _message(body, [*first, {"type": "text", "text": json.dumps(answer_object(state, body, echo))}],
                            "end_turn")
        # Free text: a native profile's answer (or two-phase thinking), after a thinking block.
        text = _last_user_text(body)
        native = native_profile(text)
        content = (native_answer(native, text, state.script.met, state.script.prefer, state.script.reasoning,
                                 _take_malformed(state)) if native else json.dumps(verdict_object(state, body)))
        return _message(body, [*thinking, {"type": "text", "text": content}], "end_turn")

    async def models(self, request: Request) -> Response:
        if not self.state.serves_models:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse({"object": "list", "data": [{"id": "scripted", "object": "model"}]})


def build_app(state: ServerState) -> Starlette:
    endpoints = _Endpoints(state)
    return Starlette(routes=[
        Route("/v1/chat/completions", endpoints.chat, methods=["POST"]),
        Route("/v1/messages", endpoints.messages, methods=["POST"]),
        Route("/v1/models", endpoints.models, methods=["GET"]),
    ])


class ScriptedJudgeServer:
    """Start with `with ScriptedJudgeServer(...) as server:`; `server.base_url` ends in /v1."""

    def __init__(self, state: ServerState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.state = state or ServerState()
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(build_app(self.state), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ScriptedJudgeServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("scripted judge server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible judge server on loopback.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    args = parser.parse_args()
    import uvicorn

    state = ServerState(latency=args.latency, record=False)
    uvicorn.run(build_app(state), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)

