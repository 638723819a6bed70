"""Keep API keys out of everything judgekit writes: output rows, cache, logs, reports, messages.

Known keys are the values of the usual key variables plus every key a backend was given in code
(each backend registers its own). Text is redacted where it enters judgekit (a judge's reply, an
error) and again where it leaves (rows, cache entries, reports), always before it is cut to
length. A key cut short by someone else (a server clipping its error body, a reply stopped at
max_tokens) still leaks its beginning, so any run of MIN_PREFIX or more of a key's first
characters is redacted too, as is any bearer token.
"""

from __future__ import annotations

import os
import re
from typing import TypeVar

# Environment variables whose values are credentials.
KEY_ENV_VARS = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "JUDGEKIT_API_KEY", "VLLM_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
)
REDACTED = "***"
MIN_PREFIX = 8  # a key's first 8 characters or more are treated as the key
# A bearer token of any origin: 16+ token characters, at least one a digit (not an English word).
_BEARER = re.compile(r"\b(Bearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,}")
_extra_secrets: set[str] = set()
_known: tuple[tuple[str | bytes | None, ...], int, list[str]] = ((), -1, [])  # (raw environment, registered count, secrets)
_encode = getattr(os.environ, "encodekey", None)
_ENCODED_NAMES = tuple(_encode(name) for name in KEY_ENV_VARS) if _encode is not None else None

T = TypeVar("T")


def register_secret(value: str | None) -> None:
    """Remember a credential given in code (not via the environment) so it is redacted too."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def _key_env() -> tuple[str | bytes | None, ...]:
    """The key variables' current values, as the environment holds them. Read on every redaction
    (a key set after start is redacted too), so read raw: `os.environ.get` decodes each value,
    which cost more than the redaction itself."""
    raw = getattr(os.environ, "_data", None)  # CPython's os.environ keeps the encoded variables here
    if raw is None or _ENCODED_NAMES is None:
        return tuple(os.environ.get(name) for name in KEY_ENV_VARS)
    return tuple(map(raw.get, _ENCODED_NAMES))


def _secrets() -> list[str]:
    global _known
    env = _key_env()
    if _known[:2] != (env, len(_extra_secrets)):  # sorted again only when a key was set or registered
        found = {os.environ.get(name, "") for name in KEY_ENV_VARS} | _extra_secrets
        # Longest first, so a key that contains another is replaced whole.
        _known = (env, len(_extra_secrets), sorted((s for s in found if len(s) >= 4), key=len, reverse=True))
    return _known[2]


def _scrub(text: str, secret: str) -> str:
    """Replace every run of the secret's first MIN_PREFIX (or more) characters."""
    head = secret[:MIN_PREFIX]
    parts: list[str] = []
    start = 0
    while (at := text.find(head, start)) >= 0:
        end = at + len(head)
        while end - at < len(secret) and end < len(text) and text[end] == secret[end - at]:
            end += 1
        parts += [text[start:at], REDACTED]
        start = end
    return "".join(parts) + text[start:] if parts else text


def redact(text: str) -> str:
    if not text:
        return text
    for secret in _secrets():
        text = _scrub(text, secret)
    return _BEARER.sub(r"\1" + REDACTED, text) if "Bearer" in text else text


def clip(text: str, limit: int) -> str:
    """Redact, then cut to `limit` characters: never the other way round, which could leave a key's
    beginning in the text."""
    return redact(text)[:limit]


def redact_tree(value: T) -> T:
    """`value` with every string in it (dict keys and values, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {redact_tree(k): redact_tree(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(redact_tree(v) for v in value)
    return value
