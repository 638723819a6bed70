"""Keep API keys out of everything judgekit writes: output rows, cache, logs, messages."""

from __future__ import annotations

import os

# Environment variables whose values are credentials.
KEY_ENV_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "JUDGEKIT_API_KEY", "VLLM_API_KEY")
_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a credential given in code (not via the environment) so it is redacted too."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def _secrets() -> list[str]:
    found = {os.environ.get(name, "") for name in KEY_ENV_VARS} | _extra_secrets
    # Longest first, so a key that contains another is replaced whole.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def redact(text: str) -> str:
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text
