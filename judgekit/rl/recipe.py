"""How to build a Judge, as data: what a trainer can pickle into another process in place of a Judge
(which holds a thread, an event loop and HTTP clients)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from judgekit.config import JudgeConfig
from judgekit.judge import Judge


@dataclass(frozen=True)
class JudgeRecipe:
    """A Judge's spec, server and settings. No key: the process that builds the Judge reads it from its
    environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), so a key is never pickled."""

    spec: str = "local"
    base_url: str | None = None
    config: JudgeConfig = field(default_factory=JudgeConfig)

    @classmethod
    def of(cls, spec: str = "local", base_url: str | None = None, options: Mapping[str, Any] | None = None) -> JudgeRecipe:
        """The recipe, its settings checked now (in the process that writes it)."""
        return cls(spec, base_url, JudgeConfig(**dict(options or {})))

    def build(self) -> Judge:
        return Judge(self.spec, base_url=self.base_url, **self.config.model_dump())
