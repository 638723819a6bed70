"""How a Judge runs: one typed config object, each field documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JudgeConfig(BaseModel):
    # nan passes every bound (each comparison with it is false) and inf passes the lower ones: a
    # timeout, temperature, cost limit or coverage of either is refused with the field's name.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    concurrency: int = Field(8, ge=1)
    """Judge calls in flight at once (across rows and criteria)."""

    criteria_per_call: Literal["one", "all"] | int = "one"
    """'one': a call per criterion (most faithful: the judge sees one question at a time).
    'all': one call per response for all model-judged criteria (K times fewer calls and prompt
    tokens; verdicts can bleed into each other). An integer N: N criteria per call."""

    timeout: float = Field(60.0, gt=0, le=86400)
    """Seconds one judge call may take before it counts as failed (and is retried); at most a day
    (a socket's timeout has a largest value)."""

    max_attempts: int = Field(4, ge=1, le=20)
    """Attempts per call for transient failures (429, 5xx, timeouts, lost connections)."""

    max_reasks: int = Field(2, ge=0, le=10)
    """Re-asks when an answer does not validate against the schema; then unscored with a reason."""

    min_coverage: float = Field(1.0, ge=0.0, le=1.0)
    """The least share of the rubric's total absolute weight that must be scored for a pointwise
    reward (the coverage rule, docs/rubrics-and-formats.md); below it, or with a hard rule unscored,
    the reward is null. 1.0: every criterion scored. Every pointwise reward of this Judge uses it:
    score, rank, serve, TRL, verl."""

    profile: str = "judgekit"
    """The judge profile: how the judge is asked and its answer read. Built in: judgekit (the JSON
    schema), rm-r1, prometheus2, rubric-rm, yes-no; or the path of a profile YAML file."""

    two_phase: bool = False
    """Reasoning judges: think freely first (no schema, `think_tokens` at most), then give the
    final answer constrained (schema) or in the profile's native format."""

    think_tokens: int = Field(2048, ge=16)

    soft: bool | None = None
    """Ask for token log-probabilities and keep P(verdict) beside each verdict. None: the
    profile's default (on for yes-no)."""

    generator: str | None = None
    """rubric-rm: the model that writes each prompt's rubric (a --judge spec); default: the judge."""

    generator_base_url: str | None = None

    temperature: float | None = Field(None, ge=0.0)
    """None: the profile's default, else 0."""

    max_tokens: int | None = Field(None, ge=16)
    """None: the profile's default, else 1024."""

    seed: int | None = 0

    max_calls: int | None = Field(None, ge=1)
    """Stop the run before it sends more judge requests than this (retries and re-asks count):
    finished rows are kept, exit code 3, and `--resume` continues with a new budget."""

    max_cost: float | None = Field(None, ge=0)
    """Stop the run once its calls have cost this many US dollars (at the model's list price; only
    for priced models). Calls in flight at that moment still finish."""

    samples: int = Field(1, ge=1, le=100)
    """Answers asked for each model-judged question (each its own call and cache entry, sample i
    with seed + i); the verdict is their majority (no majority: unscored, or a tie in pairwise), the
    share of each verdict the soft value. Above 1 the temperature must be above 0 (default 1.0)."""

    cache: bool = True
    """Reuse validated verdicts from the disk cache (and store new ones)."""

    cache_dir: str | None = None
    """Where the cache lives; default $JUDGEKIT_CACHE_DIR or ~/.cache/judgekit."""

    allow_code: bool = False
    """Run `python: module:function` checks (they execute code named by the rubric)."""

    view: Literal["last_reply", "assistant", "full"] | None = None
    """What of a transcript response (chat messages with tool calls and results) the judge sees;
    None: the rubric's `view` (default last_reply). Set, it overrides every rubric's."""

    mask_names: bool = False
    """Replace model and lab names (ChatGPT, Claude, Qwen, OpenAI, ...) in the judged responses with
    "[model]" before the judge sees them, against brand and self-preference bias."""

    @model_validator(mode="after")
    def _samples_need_temperature(self) -> JudgeConfig:
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples above 1 need a temperature above 0 (default 1.0 with samples)")
        return self
