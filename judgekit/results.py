"""Result objects. `.model_dump()` of each is exactly the JSONL output row of SPEC section 4."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer

RowId = str | int


class ScoreResult(BaseModel):
    """One scored response: reward, per-criterion 1|0|null, and why any criterion is unscored."""

    model_config = ConfigDict(frozen=True)

    id: RowId
    reward: float | None
    scores: dict[str, int | None]
    unscored: dict[str, str]
    explanations: dict[str, str] | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_explanations(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if data.get("explanations") is None:
            data.pop("explanations", None)
        return data
