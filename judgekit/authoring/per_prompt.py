"""Per-prompt RRD: each row's own rubric refined against that row's responses (as RRD does per prompt),
at most `prompts_at_once` rows at a time, with one seeded held-out split of the labelled pairs over
the whole file (each row's held-out pairs are kept out of its decisions; the held-out report pools
them). A row whose rubric is missing or does not validate is that row's error (file, line, field),
never the run's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from judgekit.authoring.refine import RefineResult, RefineSettings, heldout_report, refine_rubric, split_pairs
from judgekit.data.rows import DataRow
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue
from judgekit.judging.context import JudgeContext
from judgekit.llm.fanout import gather_all
from judgekit.rubric.formats import row_rubric
from judgekit.rubric.models import Rubric


@dataclass
class RowRefined:
    row: DataRow
    result: RefineResult | None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """The output row: the input row with its refined rubric (or the error), beside its id."""
        out: dict[str, Any] = {"id": self.row.id, **{k: v for k, v in self.row.data.items() if k != "id"}}
        if self.result is None:
            out["rubric_error"] = self.error
            return out
        r = self.result
        out["rubric"] = r.rubric.to_yaml_dict()
        out["refine"] = {"criteria_before": len(r.before.ids), "criteria_after": len(r.rubric.criteria),
                         "evidence": r.evidence, "uninformative": r.uninformative, "pair_accuracy": r.pair_accuracy}
        return out


@dataclass
class PerPromptOutcome:
    rows: list[RowRefined]
    heldout: dict[str, JSONValue]


def row_rubric_or_error(row: DataRow, file: str) -> tuple[Rubric | None, str | None]:
    """The row's rubric, or the reason it has none (naming file, line and field)."""
    try:
        rubric = row_rubric(row.data, file=file, line=row.line)
    except InputError as exc:
        return None, str(exc)
    if rubric is None:
        return None, str(InputError("the row carries no rubric", file=file, line=row.line, field="rubric"))
    return rubric, None


async def refine_per_prompt(
    context: JudgeContext, rows: Sequence[DataRow], settings: RefineSettings, *, file: str,
    say: Callable[[str], None] = lambda msg: None,
) -> PerPromptOutcome:
    held, skipped = split_pairs(rows, settings)
    if skipped:
        say(skipped)
    gate = asyncio.Semaphore(max(1, settings.prompts_at_once))

    async def one(ri: int, row: DataRow) -> RowRefined:
        rubric, error = row_rubric_or_error(row, file)
        if rubric is None:
            say(f"row {row.id}: {error}")
            return RowRefined(row, None, error)
        mine = frozenset((0, ch, rj) for r, ch, rj in held if r == ri)
        async with gate:
            result = await refine_rubric(context, rubric, [row], settings, heldout=mine,
                                         say=lambda msg: say(f"row {row.id}: {msg}"))
        return RowRefined(row, result)

    done = await gather_all(*(one(ri, row) for ri, row in enumerate(rows)))
    if skipped:
        return PerPromptOutcome(done, {"skipped": skipped})
    pooled: dict[str, list[float]] = {"original": [], "refined": [], "refined_uniform_weights": []}
    for item in done:
        for name, values in (item.result.heldout_values if item.result else {}).items():
            pooled[name].extend(values)
    return PerPromptOutcome(done, heldout_report(pooled, settings))
