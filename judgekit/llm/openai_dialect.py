"""What an OpenAI-compatible server accepts, and what its error bodies say it does not.

Servers differ in two ways that matter to a judge:

- **Sampling parameters.** OpenAI's reasoning models (the o1, o3 and o4 families and gpt-5 and
  later, except the `-chat` variants) refuse `max_tokens` (they take `max_completion_tokens`) and
  any temperature but their default. They are known by name (`is_reasoning_model`); a model the
  name does not give away (an Azure deployment, a proxy's alias) is learned from the server's own
  error: `code: unsupported_parameter` with `param: max_tokens` switches to
  `max_completion_tokens`, and `unsupported_parameter` / `unsupported_value` with
  `param: temperature` stops sending a temperature. The request is then sent again at once, and
  every later request of the run uses what was learned.
- **Structured output.** OpenAI, vLLM and SGLang take `response_format` of type `json_schema`;
  llama-cpp-python's server takes `json_object` with a schema; some servers take neither. A
  server that says it does not support the form sent (`refuses_form`) gets the next form for the
  rest of the run. Only that error steps down: a schema the server finds invalid, a context-length
  error that mentions the response_format's tokens, or any other 400 stays an error.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from judgekit.llm.base import JudgeRequest

log = logging.getLogger("judgekit.llm.openai_dialect")

Form = Literal["json_schema", "json_object", "none"]
FORMS: tuple[Form, ...] = ("json_schema", "json_object", "none")
SCHEMA_NAME = "judge_verdicts"

# o1, o1-mini, o3-pro, o4-mini-2025-04-16, gpt-5, gpt-5.1, gpt-5-mini, openai/gpt-5 (a router's
# prefix); not gpt-5-chat-latest (a chat model that takes a temperature) nor gpt-4o / gpt-oss.
_REASONING = re.compile(r"^(?:[\w.-]+/)?(?:o[134](?:$|[-.])|gpt-(?:[5-9]|\d{2,})(?:$|[-.]))", re.I)
_CHAT_VARIANT = re.compile(r"-chat(?:$|-)", re.I)
# What servers say when a response_format type is not one they know: OpenAI ("... of type
# 'json_schema' is not supported with this model"), pydantic-validated servers such as
# llama-cpp-python and older vLLM ("Input should be 'text' or 'json_object'"), llama.cpp and others
# ("must be one of", "unsupported", "not implemented").
_REFUSAL = re.compile(r"not supported|unsupported|input should be|literal_error|must be one of|not implemented", re.I)
# ... and what they say when the form is known but the schema in it is not acceptable.
_BAD_SCHEMA = re.compile(r"invalid schema|invalid_json_schema|json_schema\.schema", re.I)


def response_format(form: Form, schema: Mapping[str, object]) -> dict[str, Any] | None:
    """The `response_format` of a form: OpenAI's json_schema; json_object with the schema beside it
    (llama-cpp-python's server); none."""
    if form == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True}}
    if form == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def is_reasoning_model(model: str) -> bool:
    """Whether OpenAI's rules for reasoning models apply to `model`, by its name."""
    return bool(_REASONING.match(model)) and not _CHAT_VARIANT.search(model)


@dataclass(frozen=True)
class ServerError:
    """An HTTP error answer, read from OpenAI's error shape `{"error": {message, type, param, code}}`
    where the server uses it (most do), else from the raw text."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None

    @classmethod
    def parse(cls, status: int, text: str) -> ServerError:
        """The error of an answer with HTTP status `status` and body `text`."""
        try:
            body = json.loads(text)
        except ValueError:
            return cls(status, text)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message")
            return cls(status, message if isinstance(message, str) else json.dumps(error),
                       _text_or_none(error.get("param")), _text_or_none(error.get("code")))
        if isinstance(error, str):  # {"error": "..."} (LM Studio, some proxies)
            return cls(status, error)
        detail = body.get("detail") if isinstance(body, dict) else None  # FastAPI's validation errors
        return cls(status, json.dumps(detail if detail is not None else body))


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def refused_parameter(error: ServerError) -> Literal["max_tokens", "temperature"] | None:
    """The sampling parameter a 400 says this model does not take, if that is what it says."""
    if error.status != 400:
        return None
    if error.param == "max_tokens" and error.code == "unsupported_parameter":
        return "max_tokens"
    if error.param == "temperature" and error.code in ("unsupported_parameter", "unsupported_value"):
        return "temperature"
    return None


def refuses_form(error: ServerError) -> bool:
    """Whether the error says the server does not support the response_format form sent: it is
    about response_format (its `param`, or its message where the server names no param), says so
    in words of refusal, and does not blame the schema inside the form."""
    if error.status not in (400, 422, 500) or error.code == "invalid_json_schema" or _BAD_SCHEMA.search(error.message):
        return False
    about_form = error.param.startswith("response_format") if error.param is not None else "response_format" in error.message
    return about_form and bool(_REFUSAL.search(error.message))


_MAX_FORMATS = 256  # schemas remembered per server; more (schemas made per call) start over


class _EncodedFormat(dict[str, Any]):
    """A response_format with its JSON, made once."""

    def __init__(self, fmt: Mapping[str, object]) -> None:
        super().__init__(fmt)
        self.json = json.dumps(fmt)


class Dialect:
    """What one server has been found to accept; shared by every call of a backend, so a lesson
    learned from one error holds for the rest of the run."""

    def __init__(self, model: str) -> None:
        self.model = model
        reasoning = is_reasoning_model(model)
        self.token_param = "max_completion_tokens" if reasoning else "max_tokens"
        self.temperature = not reasoning
        self._forms: list[Form] = list(FORMS)
        # The response_format of each schema sent, with its JSON: a run sends the same few schemas
        # thousands of times, and their JSON was a third of the cost of encoding a request.
        self._formats: dict[tuple[Form, int], tuple[dict[str, Any], _EncodedFormat | None]] = {}

    def body(self, request: JudgeRequest) -> dict[str, Any]:
        """The chat-completions request body for `request`, in this server's dialect."""
        body: dict[str, Any] = {"model": self.model, "messages": list(request.messages),
                                self.token_param: request.max_tokens}
        if self.temperature:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = 5
        if request.schema is not None and (fmt := self._format(request.schema)) is not None:
            body["response_format"] = fmt  # the last key (see encode)
        return body

    def _format(self, schema: dict[str, object]) -> _EncodedFormat | None:
        key = (self._forms[0], id(schema))
        known = self._formats.get(key)
        if known is not None and known[0] is schema:  # the schema is kept, so its id is not reused
            return known[1]
        fmt = response_format(self._forms[0], schema)
        encoded = _EncodedFormat(fmt) if fmt is not None else None
        if len(self._formats) >= _MAX_FORMATS:
            self._formats.clear()
        self._formats[key] = (schema, encoded)
        return encoded

    @staticmethod
    def encode(body: dict[str, object]) -> bytes:
        """`body` as JSON (the same bytes as json.dumps), its response_format's JSON made once per schema."""
        fmt = body.get("response_format")
        if not isinstance(fmt, _EncodedFormat) or next(reversed(body)) != "response_format" or len(body) < 2:
            return json.dumps(body).encode()
        rest = json.dumps({k: v for k, v in body.items() if k != "response_format"})
        return f'{rest[:-1]}, "response_format": {fmt.json}}}'.encode()

    def learn(self, error: ServerError, sent: dict[str, Any]) -> bool:
        """Adjust to an error that says what this server does not take in the body `sent`; True
        when the request is worth sending again (in the adjusted dialect). Calls in flight may
        all learn the same lesson at once: each adjusts the same way."""
        refused = refused_parameter(error)
        if refused == "max_tokens" and "max_tokens" in sent:
            self.token_param = "max_completion_tokens"
            return True
        if refused == "temperature" and "temperature" in sent:
            self.temperature = False
            return True
        form = (sent.get("response_format") or {}).get("type")
        if form in FORMS and refuses_form(error):
            if self._forms[0] == form and len(self._forms) > 1:
                self._forms.pop(0)
                log.warning("the server refused response_format %s; falling back to %s", form, self._forms[0],
                            extra={"notice": f"structured-output fallback ({form} -> {self._forms[0]})"})
            return True
        return False
