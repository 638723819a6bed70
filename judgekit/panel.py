"""Judge panels: several judges as one. A panel is a JudgeSpec with `judges` (judgekit.judge), and its
Judge asks every judge each question and aggregates their votes (judgekit.judging.panel); score,
compare, rank, eval, the trainer rewards, the reward server and Ray take it as they take any judge.

The panel file (`--panel panel.yaml`):

    judges:
      - {judge: openai:Qwen/Qwen3-8B, base_url: http://127.0.0.1:8000/v1, weight: 2}
      - {judge: anthropic:claude-sonnet-4-5, profile: judgekit}
      - {judge: local}
    aggregate: majority      # majority | weighted | unanimous | any

`PanelSpec` is JudgeSpec's former name for a panel, `Panel(...)` a shorthand that builds its Judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from judgekit.errors import ArgumentError
from judgekit.judge import Judge, JudgeSpec, PanelJudge, make_spec
from judgekit.judging.votes import Aggregate
from judgekit.rubric.yaml_source import read_yaml, validate_yaml

__all__ = ["Panel", "PanelJudge", "PanelLike", "PanelSpec", "load_panel", "panel_spec"]

PanelSpec = JudgeSpec
"""A panel is a JudgeSpec with judges (the former name, kept)."""


class _PanelFile(BaseModel):
    """What a panel file may hold, and nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judges: list[PanelJudge] = Field(min_length=1)
    aggregate: Aggregate = "majority"


def load_panel(path: str | Path) -> JudgeSpec:
    """A panel file as a JudgeSpec (default settings); a bad file is an InputError naming file, line and field."""
    panel = validate_yaml(read_yaml(path, what="panel"), _PanelFile)
    return JudgeSpec(judges=tuple(panel.judges), aggregate=panel.aggregate)


PanelLike = JudgeSpec | str | Path | Sequence[PanelJudge | Mapping[str, Any]]
"""A panel: a JudgeSpec with judges, a panel file's path, or the list of its judges."""


def panel_spec(panel: PanelLike, aggregate: Aggregate | None = None, *, call: str = "Panel()", **settings: Any) -> JudgeSpec:
    """The JudgeSpec of a panel given in any of its forms, with `aggregate` and JudgeConfig's fields
    (`settings`, checked as `call`'s arguments) in place of its own when given."""
    if isinstance(panel, (str, Path)):
        spec = load_panel(panel)
    elif isinstance(panel, JudgeSpec):
        spec = panel
        if not spec.judges:
            raise ArgumentError("a panel is a JudgeSpec with judges", field="panel", call=call)
    else:
        spec = make_spec(None, {"judges": list(panel)}, call=call)
    if aggregate is not None:
        spec = spec.model_copy(update={"aggregate": aggregate})
    return spec.with_settings(call, **settings) if settings else spec


def Panel(panel: PanelLike, *, aggregate: Aggregate | None = None, api_key: str | None = None, **config: Any) -> Judge:
    """The Judge of a panel: `Panel("panel.yaml")`, or `Panel([{"judge": "openai:a", "base_url": URL}, ...],
    aggregate="weighted")`; the keyword arguments are the JudgeConfig of every judge (`profile`: of those
    that name none). The same as `Judge(JudgeSpec(judges=[...], aggregate=..., **config))`."""
    return Judge(panel_spec(panel, aggregate, **config), api_key=api_key)
