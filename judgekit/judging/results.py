"""Result objects. `.model_dump()` of each is exactly the JSONL output row of docs/rubrics-and-formats.md."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from judgekit.data.rows import RowId
from judgekit.errors import FailureKind, RowFailure

ROW_FAILED = "*"  # the `unscored` key of a reason that concerns the whole row, not one criterion


class ScoreResult(BaseModel):
    """One scored response: reward, the scored share of the rubric's weight, per-criterion 1|0|null
    (a rated criterion: its rating normalised to [0, 1]), and why any criterion is unscored. A
    criterion judged not to apply is null in `scores` and listed in `not_applicable`.

    The one per-item result: what judging one response gives (judging.pointwise, with `id` None and
    every criterion's reasoning in `explanations`), what a trainer's completion gets, and, under its
    row's id, the output row (judging.outcomes.score_result)."""

    model_config = ConfigDict(frozen=True)

    id: RowId | None = None  # None: a response judged outside a row
    reward: float | None
    coverage: float = Field(0.0, ge=0.0, le=1.0)  # 0.0 unless given: a row nothing was scored for
    scores: dict[str, int | float | None]
    unscored: dict[str, str]
    not_applicable: list[str] | None = None
    ratings: dict[str, int | str] | None = None  # each rated criterion's raw rating, or the label of the option chosen
    explanations: dict[str, str] | None = None
    soft: dict[str, float | None] | None = None  # P(MET) per model-judged criterion (log-probabilities)
    soft_reward: float | None = None  # the reward with P(MET) in place of 1/0
    thinking: dict[str, str] | None = None  # a reasoning judge's thinking (with --explain)
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm: criteria written for this prompt
    decided_by: dict[str, str] | None = None  # a cascade's: the judge whose verdict each model-judged criterion has
    # A row that could not be judged at all: whose failure it is, its input's or the judge's (Inspect
    # tells them apart). Not part of the output row, which says why under unscored["*"].
    failure: FailureKind | None = Field(None, exclude=True)

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        return _drop_none(handler(self), ("not_applicable", "ratings", "explanations", "soft", "soft_reward", "thinking",
                                          "generated_criteria", "decided_by"))

    @classmethod
    def failed(cls, row_id: RowId, why: RowFailure) -> ScoreResult:
        """A row that could not be judged at all: no reward, the reason under "*", whose failure it is."""
        return cls(id=row_id, reward=None, scores={}, unscored={ROW_FAILED: why.reason}, failure=why.kind)


RATED, NOT_APPLICABLE = "rated", "not applicable"  # verdict names beside MET, UNMET and unscored


def score_verdict(row: dict[str, Any], cid: str) -> str:
    """How a score row's verdict on one criterion is named: "not applicable", "rated", "MET", "UNMET"
    or "unscored" (the run report and Inspect's explanation name them alike)."""
    if cid in (row.get("not_applicable") or []):
        return NOT_APPLICABLE
    if cid in (row.get("ratings") or {}):
        return RATED
    return {1: "MET", 0: "UNMET"}.get(row["scores"][cid], "unscored")


def _drop_none(data: dict[str, object], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        if data.get(key) is None:
            data.pop(key, None)
    return data


class CompareResult(BaseModel):
    """One judged pair: winner, margin in [-1, 1], per-criterion preference 1 (A) | -1 (B) | 0 | null,
    the position-inconsistent criteria, and why any criterion is unscored. `soft` (with --soft) is
    P(A is better) per criterion from the judge's token log-probabilities, averaged over both orders."""

    model_config = ConfigDict(frozen=True)

    id: RowId
    winner: str | None
    margin: float | None
    preferences: dict[str, int | None]
    inconsistent: list[str]
    unscored: dict[str, str]
    not_applicable: list[str] | None = None
    explanations: dict[str, str] | None = None
    soft: dict[str, float | None] | None = None
    thinking: dict[str, str] | None = None  # a reasoning judge's thinking (with --explain)
    adaptive_criteria: list[dict[str, Any]] | None = None  # --adaptive: the criteria written for this pair
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm: criteria written for this prompt
    decided_by: dict[str, str] | None = None  # a cascade's: the judge whose verdicts each criterion has (per order if two)

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        return _drop_none(handler(self), ("not_applicable", "explanations", "soft", "thinking", "adaptive_criteria",
                                          "generated_criteria", "decided_by"))

    @classmethod
    def failed(cls, row_id: RowId, why: RowFailure) -> CompareResult:
        """A pair that could not be judged at all: no winner, the reason under "*"."""
        return cls(id=row_id, winner=None, margin=None, preferences={}, inconsistent=[], unscored={ROW_FAILED: why.reason})


class RankResult(BaseModel):
    """One ranked group: a reward in [0, 1] (or null) per response, in input order; with the
    pointwise strategy also each response's `scores` and `coverage`, as in a score row."""

    model_config = ConfigDict(frozen=True)

    id: RowId
    rewards: list[float | None]
    scores: list[dict[str, int | float | None]] | None = None
    coverage: list[float] | None = None  # pointwise strategy: each response's scored share of the rubric's weight
    cycles: list[list[int]] | None = None
    calls: int | None = None
    generated_criteria: list[dict[str, Any]] | None = None  # rubric-rm: criteria written for this prompt
    unscored: dict[str, str] | None = None  # only for a group that could not be judged at all: {"*": reason}
    # --adaptive: the criteria written for each compared pair, {"pair": [i, j], "criteria": [...]} (j -1: the reference)
    adaptive_criteria: list[dict[str, Any]] | None = None

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        return _drop_none(handler(self), ("scores", "coverage", "cycles", "calls", "generated_criteria", "unscored",
                                          "adaptive_criteria"))

    @classmethod
    def failed(cls, row_id: RowId, size: int, why: RowFailure) -> RankResult:
        """A group that could not be judged at all: a null reward per response, the reason under "*"."""
        return cls(id=row_id, rewards=[None] * size, unscored={ROW_FAILED: why.reason})
