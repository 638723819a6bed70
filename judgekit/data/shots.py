"""Few-shot examples drawn from labelled data (`--shots K --shots-from FILE`): rows in eval's `labels`
format, {prompt, response, labels: {criterion_id: 0 | 1}}, each a worked example (MET for 1, UNMET
for 0) of every criterion it labels. K are drawn per criterion, seeded, and added after the rubric's
own `examples`; the rubric that results (its digest, its prompts) carries them, so they are part of
the run record and of every cache key."""

from __future__ import annotations

import random
from pathlib import Path

from judgekit.data.datasets import read_labelled
from judgekit.errors import InputError
from judgekit.rubric.models import Criterion, Example, Rubric


def with_shots(rubric: Rubric, source: str | Path, k: int, *, seed: int = 0) -> Rubric:
    """`rubric` with up to `k` examples per model-judged MET/UNMET criterion drawn from `source`."""
    if k < 1:
        raise InputError("--shots takes a positive number of examples per criterion", field="--shots")
    others = [c.cid for c in rubric.criteria if c.scale is not None or c.choices is not None]
    rows = read_labelled(source, rubric.ids, rated=others)
    drawn: list[Criterion] = []
    for c in rubric.criteria:
        pool = [r for r in rows if c.cid in r.labels] if c.judged_by_model and c.cid not in others else []
        picked = random.Random(f"{seed}:{c.cid}").sample(pool, min(k, len(pool)))
        shots = tuple(Example(response=r.response if isinstance(r.response, (str, list)) else [r.response],
                              verdict=bool(r.labels[c.cid])) for r in picked)
        drawn.append(c.model_copy(update={"examples": (*c.examples, *shots)}) if shots else c)
    if all(d is c for d, c in zip(drawn, rubric.criteria)):
        raise InputError("no row labels a criterion judged MET/UNMET by the model", file=str(source), field="labels")
    return rubric.model_copy(update={"criteria": tuple(drawn)})
