"""Keep API keys out of everything judgekit writes: output rows, cache, logs, reports, messages.

Known keys are the values of the usual key variables plus every key a backend was given in code
(each backend registers its own). Free text is redacted where judgekit makes it from a reply or
an error (a verdict's reasoning and thinking, an unscored reason, a generated criterion's text)
and again where it leaves (rows, cache entries, reports), always before it is cut to length. The
structure of a reply is never redacted before it is parsed, nor are a row's keys and identifiers
(criterion ids, row ids, verdict values): a secret can be a word (a password `true`, `verdicts`, or
a criterion's id), and redacting it there would change what the judge said.

A key cut short by someone else (a server clipping its error body, a reply stopped at max_tokens)
still leaks its beginning, so any run of MIN_PREFIX or more of a key's first characters is
redacted too, as is any bearer token.

Credentials in a server URL (`http://user:PASSWORD@host/v1`) are secrets too: a backend registers
the URL (`register_url`), which makes the password and the `Basic` header sent for it (base64 of
user:password) known secrets, and URLs are shown with their credentials masked (`shown_url`). Any
`Basic` credentials and any `Authorization:` value a server echoes are redacted as well.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import urllib.parse
from typing import TypeVar

# Environment variables whose values are credentials.
KEY_ENV_VARS = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "JUDGEKIT_API_KEY", "VLLM_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
)
REDACTED = "***"
MIN_PREFIX = 8  # a key's first 8 characters or more are treated as the key
# A bearer token of any origin: 16+ token characters, at least one a digit (not an English word).
_BEARER = re.compile(r"\b(Bearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,}")
# Basic credentials: base64 that decodes to user:password (checked when matched, so prose is left alone).
_BASIC = re.compile(r"\b(Basic\s+)([A-Za-z0-9+/]{4,}={0,2})")
# Any value after an Authorization label, whatever its scheme: to the end of the line or quote.
# (Quotes may be escaped: an echo inside a JSON string.)
_AUTHORIZATION = re.compile(r"(?i)\b(authorization(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)[^\"'\\\r\n]+")
_extra_secrets: set[str] = set()
_known: tuple[tuple[str | bytes | None, ...], int, list[str]] = ((), -1, [])  # (raw environment, registered count, secrets)
_encode = getattr(os.environ, "encodekey", None)
_ENCODED_NAMES = tuple(_encode(name) for name in KEY_ENV_VARS) if _encode is not None else None

T = TypeVar("T")


def register_secret(value: str | None) -> None:
    """Remember a credential given in code (not via the environment) so it is redacted too."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def register_url(url: str | None) -> None:
    """Remember the credentials of a server URL (`scheme://user:password@host/...`): the password
    (as written and decoded), the user alone when it has no password or an empty one (a token as
    user name), and the `Basic` header value an HTTP client sends for them."""
    found = url_credentials(url)
    if found is None:
        return
    (raw_user, raw_password), (user, password) = found
    for secret in (raw_password, password) if password else (raw_user, user):  # `TOKEN:@`: the user is the secret
        register_secret(secret)
    # As HTTP clients encode it (judgekit's own, and httpx under the Anthropic SDK): UTF-8.
    register_secret(base64.b64encode(f"{user}:{password or ''}".encode()).decode())


def url_credentials(url: str | None) -> tuple[tuple[str, str | None], tuple[str, str | None]] | None:
    """The user and password of `url` as written and percent-decoded, or None when it has none."""
    if not url or (span := _userinfo_span(url)) is None:
        return None
    user, colon, password = url[span[0]:span[1]].partition(":")
    raw = (user, password if colon else None)
    return raw, (urllib.parse.unquote(user), urllib.parse.unquote(password) if colon else None)


def shown_url(url: str) -> str:
    """`url` as it may be shown or stored: a password masked (`http://user:***@host/v1`), a user
    without a password or with an empty one (a token: `TOKEN@`, `TOKEN:@`) masked whole."""
    span = _userinfo_span(url)
    if span is None:
        return url
    user, _, password = url[span[0]:span[1]].partition(":")
    return url[:span[0]] + (f"{user}:{REDACTED}" if password else REDACTED) + url[span[1]:]


def url_without_credentials(url: str) -> str:
    """`url` with its `user:password@` part removed."""
    span = _userinfo_span(url)
    return url if span is None else url[:span[0]] + url[span[1] + 1:]


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the user:password part of `url` starts and ends (the `@` after it), if it has one."""
    start = url.find("://") + 3 if "://" in url else 0
    end = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0), default=len(url))
    at = url.rfind("@", start, end)
    return (start, at) if at >= 0 else None


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
    if "Bearer" in text:
        text = _BEARER.sub(r"\1" + REDACTED, text)
    if "Basic" in text:
        text = _BASIC.sub(_basic_credentials, text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTHORIZATION.sub(r"\1" + REDACTED, text)
    return text


def _basic_credentials(match: re.Match[str]) -> str:
    """`Basic ***` for base64 that decodes to user:password; the text as it was otherwise."""
    token = match[2].rstrip("=")
    try:  # (a token cut short is padded again: it may have been clipped by the server)
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return match[1] + REDACTED if b":" in decoded else match[0]


def clip(text: str, limit: int) -> str:
    """Redact, then cut to `limit` characters: never the other way round, which could leave a key's
    beginning in the text."""
    return redact(text)[:limit]


# Fields of a row or cache entry that hold identifiers, not text: a row's and a criterion's id, a
# verdict's value, a winner, a criterion's kind and lists of criterion ids. Kept as written.
IDENTIFIER_FIELDS = frozenset({"id", "value", "winner", "kind", "not_applicable", "inconsistent"})


def redact_tree(value: T) -> T:
    """`value` with the free text in it (string values of dicts, lists and tuples) redacted; dict
    keys (criterion ids, field names) and the values of IDENTIFIER_FIELDS are kept."""
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: v if k in IDENTIFIER_FIELDS else redact_tree(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(redact_tree(v) for v in value)
    return value
