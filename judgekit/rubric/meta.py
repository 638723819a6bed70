"""Meta-rubrics: the constitution for criteria written on the fly for one pair (OpenRS PAMR).

It says what criteria may be written (rules, in plain words, shown to the judge), how many, and
which categories exist; each category fixes the weight and kind of the criteria filed under it,
so the judge that writes criteria cannot also decide how much they count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from judgekit.rubric.yaml_source import read_yaml, validate_yaml


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str
    weight: float = 1.0
    kind: Literal["principle", "hard_rule"] = "principle"

    @field_validator("weight")
    @classmethod
    def _positive(cls, value: float) -> float:
        # Written criteria describe what the better response has; a pitfall weight would invert it.
        if not value > 0:
            raise ValueError("a category's weight is positive")
        return value


class MetaRubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    min_criteria: int = Field(1, ge=1, le=12)
    max_criteria: int = Field(4, ge=1, le=12)
    rules: list[str] = []
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> MetaRubric:
        if self.min_criteria > self.max_criteria:
            raise ValueError("min_criteria is larger than max_criteria")
        ids = [c.id for c in self.categories]
        if len(set(ids)) != len(ids):
            raise ValueError("category ids must be unique")
        return self

    def category(self, cid: str) -> Category | None:
        return next((c for c in self.categories if c.id == cid), None)


def load_meta_rubric(path: str | Path | MetaRubric) -> MetaRubric:
    """Read and validate a meta-rubric YAML file. Raises InputError naming file, line and field."""
    if isinstance(path, MetaRubric):
        return path
    return validate_yaml(read_yaml(path, what="meta-rubric"), MetaRubric)
