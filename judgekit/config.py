"""How a Judge runs: one typed config object, each field documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(8, ge=1)
    """Judge calls in flight at once (across rows and criteria)."""

    criteria_per_call: Literal["one", "all"] | int = "one"
    """'one': a call per criterion (most faithful: the judge sees one question at a time).
    'all': one call per response for all model-judged criteria (K times fewer calls and prompt
    tokens; verdicts can bleed into each other). An integer N: N criteria per call."""

    timeout: float = Field(60.0, gt=0)
    """Seconds one judge call may take before it counts as failed (and is retried)."""

    max_attempts: int = Field(4, ge=1, le=20)
    """Attempts per call for transient failures (429, 5xx, timeouts, lost connections)."""

    max_reasks: int = Field(2, ge=0, le=10)
    """Re-asks when an answer does not validate against the schema; then unscored with a reason."""

    temperature: float = Field(0.0, ge=0.0)
    max_tokens: int = Field(1024, ge=16)
    seed: int | None = 0

    cache: bool = True
    """Reuse validated verdicts from the disk cache (and store new ones)."""

    cache_dir: str | None = None
    """Where the cache lives; default $JUDGEKIT_CACHE_DIR or ~/.cache/judgekit."""

    allow_code: bool = False
    """Run `python: module:function` checks (they execute code named by the rubric)."""

    mask_names: bool = False
    """Replace model and lab names (ChatGPT, Claude, Qwen, OpenAI, ...) in the judged responses with
    "[model]" before the judge sees them, against brand and self-preference bias."""
