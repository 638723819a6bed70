"""Judge panels: several judges as one. A panel is a JudgeSpec with `judges` (judgekit.judge), and its
Judge asks every judge each question and aggregates their votes (judgekit.judging.panel); score,
compare, rank, eval, the trainer rewards, the reward server and Ray take it as they take any judge.

The panel file (`--panel panel.yaml`):

    judges:
      - {judge: openai:Qwen/Qwen3-8B, base_url: http://127.0.0.1:8000/v1, weight: 2}
      - {judge: anthropic:claude-sonnet-4-5, profile: judgekit}
      - {judge: local}
    aggregate: majority      # majority | weighted | unanimous | any

or a confidence cascade (judgekit.judging.cascade), cheapest judge first:

    cascade:
      - {judge: openai:small, base_url: http://127.0.0.1:8000/v1}
      - {judge: openai:large}
    threshold: 0.8           # a verdict less sure than this goes on to the next judge
    check_rate: 0.1          # also ask the last judge a seeded tenth of the rest: agreement

`PanelSpec` is JudgeSpec's former name for a panel, `Panel(...)` a shorthand that builds its Judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from judgekit.errors import ArgumentError, InputError
from judgekit.judge import CascadeJudge, Judge, JudgeSpec, PanelJudge, make_spec
from judgekit.judging.votes import Aggregate
from judgekit.rubric.yaml_source import read_yaml, validate_yaml

__all__ = ["Panel", "PanelJudge", "PanelLike", "PanelSpec", "load_panel", "panel_spec"]

PanelSpec = JudgeSpec
"""A panel is a JudgeSpec with judges (the former name, kept)."""


class _PanelFile(BaseModel):
    """What a panel file may hold, and nothing else: a panel's judges, or a cascade's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judges: list[PanelJudge] | None = Field(None, min_length=1)
    aggregate: Aggregate = "majority"
    cascade: list[CascadeJudge] | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    check_rate: float | None = Field(None, ge=0.0, le=1.0)

    @field_validator("cascade")
    @classmethod
    def _one_kind(cls, cascade: list[CascadeJudge] | None, info: ValidationInfo) -> list[CascadeJudge] | None:
        if cascade is not None and info.data.get("judges"):
            raise ValueError("give judges (a panel) or cascade, not both")
        if cascade is not None and len(cascade) < 2:
            raise ValueError(f"a cascade needs at least 2 judges, got {len(cascade)}")
        return cascade

    @field_validator("threshold", "check_rate")
    @classmethod
    def _of_a_cascade(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not info.data.get("cascade"):
            raise ValueError(f"{info.field_name} is a cascade's: give it with cascade")
        return value


def load_panel(path: str | Path) -> JudgeSpec:
    """A panel (or cascade) file as a JudgeSpec (default settings); a bad file is an InputError naming file,
    line and field."""
    source = read_yaml(path, what="panel")
    panel = validate_yaml(source, _PanelFile)
    if panel.cascade:
        given = {k: v for k, v in (("threshold", panel.threshold), ("check_rate", panel.check_rate)) if v is not None}
        return JudgeSpec(cascade=tuple(panel.cascade), **given)
    if not panel.judges:
        raise InputError("a panel file gives judges (a panel) or cascade", file=str(source.path), field="judges")
    return JudgeSpec(judges=tuple(panel.judges), aggregate=panel.aggregate)


PanelLike = JudgeSpec | str | Path | Sequence[PanelJudge | Mapping[str, object]]
"""A panel: a JudgeSpec with judges, a panel file's path, or the list of its judges."""


def panel_spec(panel: PanelLike, aggregate: Aggregate | None = None, *, call: str = "Panel()",
               settings: Mapping[str, object] | None = None) -> JudgeSpec:
    """The JudgeSpec of a panel given in any of its forms, with `aggregate` and JudgeConfig's fields
    (`settings`, checked as `call`'s arguments) in place of its own when given."""
    if isinstance(panel, (str, Path)):
        spec = load_panel(panel)
    elif isinstance(panel, JudgeSpec):
        spec = panel
        if not spec.members:
            raise ArgumentError("a panel is a JudgeSpec with judges (or a cascade)", field="panel", call=call)
    else:
        spec = make_spec(None, {"judges": list(panel)}, call=call)
    if aggregate is not None:
        spec = spec.model_copy(update={"aggregate": aggregate})
    return spec.with_settings(call, **settings) if settings else spec


def Panel(panel: PanelLike, *, aggregate: Aggregate | None = None, api_key: str | None = None, **config: object) -> Judge:
    """The Judge of a panel: `Panel("panel.yaml")`, or `Panel([{"judge": "openai:a", "base_url": URL}, ...],
    aggregate="weighted")`; the keyword arguments are the JudgeConfig of every judge (`profile`: of those
    that name none). The same as `Judge(JudgeSpec(judges=[...], aggregate=..., **config))`."""
    return Judge(panel_spec(panel, aggregate, settings=config), api_key=api_key)
