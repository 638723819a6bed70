"""`judgekit.Panel`: several judges as one. A Panel is a Judge (score, compare, rank, eval, the
trainer rewards and the reward server take it as they take a Judge) whose every verdict is the
aggregate of its judges' own answers (judgekit.judging.panel).

The panel file (`--panel panel.yaml`):

    judges:
      - {judge: openai:Qwen/Qwen3-8B, base_url: http://127.0.0.1:8000/v1, weight: 2}
      - {judge: anthropic:claude-sonnet-4-5, profile: judgekit}
      - {judge: local}
    aggregate: majority      # majority | weighted | unanimous | any
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from judgekit.config import JudgeConfig
from judgekit.errors import InputError
from judgekit.judge import Judge, check_recipe_servers
from judgekit.judging.panel import Juror, PanelCollector
from judgekit.judging.verdicts import VerdictCollector
from judgekit.judging.votes import Aggregate
from judgekit.llm.base import Backend
from judgekit.llm.budget import Budget
from judgekit.llm.factory import make_backend, spec_problem
from judgekit.llm.pricing import pricing_for
from judgekit.protocol.profiles import load_profile
from judgekit.rubric.yaml_source import read_yaml, validate_yaml


class PanelJudge(BaseModel):
    """One judge of a panel: its --judge spec, server, profile (default: the panel's) and weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str
    base_url: str | None = None
    profile: str | None = None
    weight: float = Field(1.0, gt=0)

    @field_validator("judge")
    @classmethod
    def _known(cls, spec: str) -> str:
        if (problem := spec_problem(spec)) is not None:
            raise ValueError(problem)
        return spec

    @field_validator("profile")
    @classmethod
    def _loads(cls, profile: str | None) -> str | None:
        if profile is not None:
            try:
                load_profile(profile)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return profile


class PanelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    judges: list[PanelJudge] = Field(min_length=1)
    aggregate: Aggregate = "majority"


def load_panel(path: str | Path) -> PanelSpec:
    """A panel file; a bad one is an InputError naming file, line and field."""
    return validate_yaml(read_yaml(path, what="panel"), PanelSpec)


PanelLike = PanelSpec | str | Path | Sequence[PanelJudge | Mapping[str, Any]]


def panel_spec(panel: PanelLike, aggregate: Aggregate | None = None) -> PanelSpec:
    if isinstance(panel, (str, Path)):
        spec = load_panel(panel)
    elif isinstance(panel, PanelSpec):
        spec = panel
    else:
        try:
            spec = PanelSpec(judges=[PanelJudge.model_validate(j) for j in panel])
        except ValueError as exc:
            raise InputError(str(exc), field="judges") from None
    return spec.model_copy(update={"aggregate": aggregate}) if aggregate is not None else spec


class Panel(Judge):
    """`Panel("panel.yaml")`, or `Panel([{"judge": "openai:a", "base_url": URL}, ...], aggregate="weighted")`;
    the keyword arguments are the JudgeConfig of every judge (`profile`: of those that name none)."""

    def __init__(self, panel: PanelLike, *, aggregate: Aggregate | None = None, api_key: str | None = None,
                 **config: Any) -> None:
        self.panel = panel_spec(panel, aggregate)
        default = config.get("profile", "judgekit")
        self._profiles = [load_profile(j.profile or default) for j in self.panel.judges]
        lead = self.panel.judges[0]
        super().__init__(lead.judge, base_url=lead.base_url, api_key=api_key, **{**config, "profile": self._profiles[0]})
        self.spec = "panel(" + ", ".join(j.judge for j in self.panel.judges) + f"; {self.panel.aggregate})"
        self._backends: list[Backend] = [self._backend] + [
            make_backend(j.judge, base_url=j.base_url, api_key=api_key, timeout=self.config.timeout, cache_dir=self.config.cache_dir)
            for j in self.panel.judges[1:]]
        self._owned.backends.extend(self._backends[1:])
        self._prices = [pricing_for(j.judge) for j in self.panel.judges]
        for pricing in self._prices[1:]:
            self.budget.price_with(pricing)
        self.pricing = next((p for p in self._prices if p.prices is None), self._prices[0])  # why a cost is unknown

    def _verdict_collector(self) -> VerdictCollector:
        jurors = [Juror(self._collector_for(self._runner(backend, pricing), profile), j.weight, f"judge {i + 1} ({j.judge})")
                  for i, (j, backend, profile, pricing)
                  in enumerate(zip(self.panel.judges, self._backends, self._profiles, self._prices))]
        return PanelCollector(jurors, self.panel.aggregate, self.agreement)


@dataclass(frozen=True)
class PanelRecipe:
    """How to build a Panel, as data: what a Ray actor pickles in place of it (see JudgeRecipe). No key."""

    panel: PanelSpec
    config: JudgeConfig = field(default_factory=JudgeConfig)

    def with_config(self, config: JudgeConfig) -> PanelRecipe:
        return replace(self, config=config)

    def build(self, budget: Budget | None = None) -> Panel:
        """The Panel; `budget`: one it shares with others (see Judge), else its own."""
        return Panel(self.panel, budget=budget, **self.config.model_dump())

    def check_servers(self) -> None:
        """Panel.check_servers without building the Panel (see JudgeRecipe.check_servers)."""
        check_recipe_servers([(j.judge, j.base_url) for j in self.panel.judges], self.config)
