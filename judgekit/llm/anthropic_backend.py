"""`anthropic:MODEL`: the Messages API through the anthropic SDK (tested with 2.15).

Structured output: `output_config.format` with the verdict schema as a JSON schema (made to the API's
rules by the SDK's own `transform_schema`) where the SDK's `messages.create` takes it (2.x); with an
older SDK, a tool whose input schema is the verdict schema, forced with `tool_choice`.

A thinking model works either way. `output_config` does not touch tool choice. The API refuses a forced
tool choice while the model thinks, so on the tool path, with `thinking` asked for here or once the API
has refused a forced tool for that reason, the tool is offered without being forced
(`tool_choice: auto`) and an answer given in text is read as text.

What is not sent is not claimed by the cache key (`unsent_fields`, read by CallRunner.cache_key): 2.x's
`messages.create` has no temperature (and with thinking on, none is sent either), the API takes no
seed and returns no log-probabilities.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import TYPE_CHECKING, Any, cast

import anthropic
from anthropic.resources import AsyncMessages
from anthropic.types import Message, MessageParam, TextBlock, ToolUseBlock

from judgekit.errors import InputError
from judgekit.llm.base import (
    REFUSED_CREDENTIALS,
    Backend,
    Completion,
    FatalError,
    Identity,
    JSONValue,
    JudgeRequest,
    TransientError,
    check_failure,
    parse_retry_after,
)
from judgekit.secrets import clip, redact, register_secret, register_url, shown_url

if TYPE_CHECKING:
    from anthropic.types import ThinkingConfigParam

TOOL_NAME = "record_verdicts"
# The API's 400 for a forced tool choice while the model thinks.
THINKING_REFUSES_FORCED_TOOL = "Thinking may not be enabled when tool_choice forces tool use"
_CREATE = inspect.signature(AsyncMessages.create).parameters
SENDS_OUTPUT_CONFIG = "output_config" in _CREATE  # 2.x
SENDS_TEMPERATURE = "temperature" in _CREATE  # before 2.x


class AnthropicBackend(Backend):
    enforces_timeout = True  # the SDK client has the per-call timeout

    def __init__(
        self, model: str, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
        thinking: ThinkingConfigParam | None = None,
    ) -> None:
        self.model = model
        register_url(base_url)
        self.base_url = base_url
        self.thinking = thinking
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise InputError("ANTHROPIC_API_KEY is not set", field="--judge")
        register_secret(key)
        self._client = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
        self.structured_output = "output_config" if SENDS_OUTPUT_CONFIG else "tool"
        thinks = thinking is not None and thinking.get("type") != "disabled"
        self._force_tool = not thinks
        self._temperature = SENDS_TEMPERATURE and not thinks  # thinking takes only the default temperature
        self.unsent_fields = frozenset({"seed", "logprobs"} | (set() if self._temperature else {"temperature"}))

    def identity(self) -> Identity:
        identity: Identity = {"backend": "anthropic", "model": self.model,
                                    "base_url": shown_url(self.base_url or "https://api.anthropic.com"),
                                    "structured_output": self.structured_output}
        if self.thinking is not None:
            identity["thinking"] = cast(JSONValue, dict(self.thinking))  # a request parameter: JSON
        return identity

    async def complete(self, request: JudgeRequest) -> Completion:
        try:
            resp = await self._client.messages.create(**self._arguments(request))
        except anthropic.APIStatusError as exc:
            if self._unforce_tool(exc):
                return await self.complete(request)
            raise _status_error(exc) from None
        except anthropic.APITimeoutError:
            raise TransientError("timed out") from None
        except anthropic.APIConnectionError as exc:
            raise TransientError(redact(f"connection error: {exc}")) from None
        return _completion(resp)

    def _unforce_tool(self, exc: anthropic.APIStatusError) -> bool:
        """True when the API refused the forced tool because the model thinks: from now on it is offered unforced."""
        if self.structured_output == "tool" and self._force_tool and exc.status_code == 400 \
                and THINKING_REFUSES_FORCED_TOOL in str(exc.message):
            self._force_tool = False
            return True
        return False

    def _arguments(self, request: JudgeRequest) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for one request: what is sent, and nothing else."""
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        args: dict[str, Any] = {
            "model": self.model,
            "messages": [_turn(m) for m in request.messages if m["role"] != "system"],
            "max_tokens": request.max_tokens,
        }
        if system:
            args["system"] = system
        if self._temperature:
            args["temperature"] = request.temperature
        if self.thinking is not None:
            args["thinking"] = self.thinking
            # A thinking budget counts toward max_tokens: the answer keeps the room it was given.
            if self.thinking["type"] == "enabled":
                args["max_tokens"] += self.thinking["budget_tokens"]
        if request.schema is not None:  # else free text: a native answer format, or two-phase thinking
            args.update(self._structured(request.schema))
        return args

    def _structured(self, schema: dict[str, object]) -> dict[str, Any]:
        if self.structured_output == "output_config":
            return {"output_config": {"format": {"type": "json_schema", "schema": anthropic.transform_schema(schema)}}}
        tool = {"name": TOOL_NAME, "description": "Record one verdict per criterion, reasoning first.", "input_schema": schema}
        choice = {"type": "tool", "name": TOOL_NAME} if self._force_tool else {"type": "auto"}
        return {"tools": [tool], "tool_choice": choice}

    async def aclose(self) -> None:
        await self._client.close()

    async def check(self) -> None:
        where = f"the judge server at {shown_url(self.base_url or 'https://api.anthropic.com')}"
        try:
            status, message, json_answer = await self._probe()
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
            raise FatalError(clip(f"{where} does not answer: {exc}", 600)) from None
        if (failure := check_failure(where, status, message, json_answer=json_answer)) is not None:
            raise failure

    async def _probe(self) -> tuple[int, str, bool]:
        """The status, message and whether the body was JSON of the model list; where that lists no
        models (any answer but a refusal of the credentials), of a message request with no
        messages, which the API refuses (400) without generating anything."""
        try:
            await self._client.models.list(limit=1)
            return 200, "", True
        except anthropic.APIStatusError as exc:
            if exc.status_code in REFUSED_CREDENTIALS:
                return exc.status_code, str(exc.message), True
        except anthropic.APIResponseValidationError:  # a 200 that is not a model list
            pass
        try:
            await self._client.messages.create(model=self.model, messages=[], max_tokens=1)
            return 200, "", True
        except anthropic.APIResponseValidationError as exc:  # a 200 that is not a message
            return exc.status_code, "not a message", False
        except anthropic.APIStatusError as exc:
            return exc.status_code, str(exc.message), isinstance(exc.body, (dict, list))


def _turn(message: dict[str, str]) -> MessageParam:
    if message["role"] == "assistant":
        return {"role": "assistant", "content": message["content"]}
    return {"role": "user", "content": message["content"]}


def _status_error(exc: anthropic.APIStatusError) -> TransientError | FatalError:
    status = exc.status_code
    text = clip(f"HTTP {status}: {exc.message}", 310)
    if status in (408, 409, 429) or status >= 500:
        return TransientError(text, parse_retry_after(exc.response.headers.get("retry-after")))
    return FatalError(text)


def _completion(resp: Message) -> Completion:
    """The tool call's input (else the text blocks: the JSON of `output_config`, or free text), the
    thinking blocks and the token counts."""
    payload: dict[str, Any] | None = None
    texts: list[str] = []
    thinking: list[str] = []
    for block in resp.content:
        if isinstance(block, ToolUseBlock) and block.name == TOOL_NAME:
            payload = dict(block.input) if isinstance(block.input, dict) else None
        elif isinstance(block, TextBlock):
            texts.append(block.text)
        elif getattr(block, "type", None) == "thinking":
            thinking.append(getattr(block, "thinking", "") or "")
    text = json.dumps(payload) if payload is not None else "\n".join(texts)
    return Completion(
        text=text,
        payload=payload,
        prompt_tokens=int(resp.usage.input_tokens or 0),
        completion_tokens=int(resp.usage.output_tokens or 0),
        reasoning="\n".join(thinking),
        finish_reason=getattr(resp, "stop_reason", None),
    )
