"""Transcripts: a response given as chat messages with tool calls and tool results (OpenAI's
`tool_calls` and `tool` messages, Anthropic's `tool_use` and `tool_result` content blocks), checked
and rendered as the text the judge sees, in one of three views (docs/transcripts.md):

- `last_reply`: the text of the assistant turns, as judgekit has always shown a chat response;
- `assistant`: every assistant turn, its text and its tool calls (name and arguments);
- `full`: every message of the response, user turns and tool results included.

Every field of a shown message reaches the judge. A tool result longer than TOOL_OUTPUT_LIMIT
characters keeps its head and tail, the middle replaced by a marker that says how much was cut.
Each part starts with a header carrying a tag made from the transcript's own content, so no text
in it can pose as another message, call or result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from judgekit.jsonvalue import JSONValue
from judgekit.rubric.models import View

TOOL_OUTPUT_LIMIT = 4000
"""Characters of one tool result shown to the judge; a longer one keeps its first and last
TOOL_OUTPUT_LIMIT / 2 characters around a "[... N characters cut ...]" marker."""

CHAT_ROLES = ("system", "user", "assistant", "tool", "developer")
Message: TypeAlias = "Mapping[str, JSONValue]"  # {"role": ..., "content": ...} and whatever else a chat message holds
Text: TypeAlias = "str | Sequence[Message] | Message"  # a prompt or a response: a text, a conversation, or one message


def message_text(value: object) -> str:
    """The text of a string, one chat message, or a list of messages (assistant turns if any)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return content_text(value.get("content", ""))
    if isinstance(value, list):
        messages = [m for m in value if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        chosen = assistant or messages
        return "\n\n".join(content_text(m.get("content", "")) for m in chosen)
    return str(value)


def as_text(value: object) -> Text:
    """A value given as a prompt or response (a row's JSON value), as Text, shown to the judge as it
    would be: a string or one message as it is, a list's messages, any other value as its text."""
    if isinstance(value, (str, Mapping)):
        return value
    if isinstance(value, list):
        return [m for m in value if isinstance(m, Mapping)]  # what the judge is shown of a list: its messages
    return message_text(value)


def content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


# Keys of a message rendered in their own way; any other key is shown as `KEY: JSON`.
_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id"}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # the arguments as sent: OpenAI's JSON string, or Anthropic's `input` as JSON

    def arguments_valid(self) -> bool:
        """Whether the arguments are a JSON object (what a function's parameters are)."""
        try:
            return isinstance(json.loads(self.arguments), dict)
        except ValueError:
            return False


def messages_of(value: object) -> list[dict[str, Any]] | None:
    """The messages of a chat response (a list of messages, or one message), None for a string."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [m for m in value if isinstance(m, dict)]
    return None


def _blocks(message: Mapping[str, object]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def tool_calls(value: object) -> list[ToolCall]:
    """Every tool call in a response, in order (none for a string)."""
    calls: list[ToolCall] = []
    for m in messages_of(value) or []:
        for call in m.get("tool_calls") or []:
            if isinstance(call, dict):
                given = call.get("function")
                function: dict[str, Any] = given if isinstance(given, dict) else call
                arguments = function.get("arguments", "")
                calls.append(ToolCall(str(call.get("id", "")), str(function.get("name", "")),
                                      arguments if isinstance(arguments, str) else _json(arguments)))
        for block in _blocks(m):
            if block.get("type") == "tool_use":
                calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), _json(block.get("input", {}))))
    return calls


def transcript_problem(value: object) -> tuple[str, str] | None:
    """(where in the response, why) for a message with an unknown role or a tool result that answers
    no earlier tool call, or None."""
    messages = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    called: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if "role" in m and role not in CHAT_ROLES:
            shown = repr(role) if len(repr(role)) <= 40 else repr(role)[:37] + "..."
            return f"[{i}].role", f"unknown role {shown}; a message's role is one of {', '.join(CHAT_ROLES)}"
        called.update(c.id for c in tool_calls([m]))
        if role == "tool" and str(m.get("tool_call_id", "")) not in called:
            return f"[{i}].tool_call_id", f"tool result for {m.get('tool_call_id')!r}, which no earlier tool call made"
        for j, block in enumerate(_blocks(m)):
            if block.get("type") == "tool_result" and str(block.get("tool_use_id", "")) not in called:
                return (f"[{i}].content[{j}].tool_use_id",
                        f"tool result for {block.get('tool_use_id')!r}, which no earlier tool_use block made")
    return None


def response_text(value: object, view: View = "last_reply") -> str:
    """What the judge sees of a response under `view`. A string, and any response under `last_reply`,
    is shown as judgekit always showed it (the assistant turns' text)."""
    messages = messages_of(value)
    if view == "last_reply" or messages is None:
        return message_text(value)
    tag = "#" + hashlib.sha256(_json(messages).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    parts: list[str] = []
    for number, m in enumerate(messages, start=1):
        role = str(m.get("role", "user"))
        if view == "assistant" and role != "assistant":
            continue
        parts.extend(_rendered(m, number, role, tag))
    return "\n".join(parts)


def _rendered(m: Mapping[str, object], number: int, role: str, tag: str) -> list[str]:
    head = f"--- message {number}: {role}"
    if role == "tool" and m.get("tool_call_id"):  # TRL's tool messages carry no id (only the function's name)
        head += f" (result of call {m.get('tool_call_id')})"
    out = [f"{head} {tag} ---"]
    out.extend(f"{key}: {_json(m[key])}" for key in m if key not in _MESSAGE_KEYS)
    content = m.get("content")
    if isinstance(content, list):
        for block in content:
            out.extend(_block(block, tag))
    elif content is not None:
        out.append(_cut(str(content)) if role == "tool" else str(content))
    for call in tool_calls([{"tool_calls": m.get("tool_calls")}]):
        out.extend([f"--- tool call{_of(call.id)}: {call.name} {tag} ---", call.arguments])
    return out


def _block(block: object, tag: str) -> list[str]:
    if not isinstance(block, dict):
        return [_json(block)]
    kind = block.get("type")
    if kind == "text":
        return [str(block.get("text", ""))]
    if kind == "tool_use":
        return [f"--- tool call{_of(block.get('id'))}: {block.get('name')} {tag} ---", _json(block.get("input", {}))]
    if kind == "tool_result":
        of_call = f" of call {block.get('tool_use_id')}" if block.get("tool_use_id") else ""
        head = f"--- tool result{of_call}{' (error)' if block.get('is_error') else ''} {tag} ---"
        inner = block.get("content")
        text = inner if isinstance(inner, str) else "\n".join(
            str(b.get("text", "")) if isinstance(b, dict) and b.get("type") == "text" else _json(b) for b in inner or [])
        return [head, _cut(text)]
    return [_json(block)]


def _of(call_id: object) -> str:
    """A call's id in its header, where it has one (TRL's parsed tool calls have none)."""
    return f" {call_id}" if call_id else ""


def _cut(text: str) -> str:
    if len(text) <= TOOL_OUTPUT_LIMIT:
        return text
    half = TOOL_OUTPUT_LIMIT // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
