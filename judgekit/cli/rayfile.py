"""`score --ray` and `compare --ray`: a file's rows judged on a Ray pool (judgekit.ray), counted into
the run summary as each shard is written."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from judgekit.cli.options import JudgeOptions
from judgekit.cli.runfile import RunSummary
from judgekit.data.rows import InputRow
from judgekit.data.runrecord import RunRecord
from judgekit.errors import InputError
from judgekit.judge import JudgeRecipe
from judgekit.judging.results import ROW_FAILED
from judgekit.llm.usage import RunStats
from judgekit.rubric.models import Rubric

Kind = Literal["score", "compare"]


def run_file_on_ray(rows: list[InputRow], rubric: Rubric | None, explain: bool, options: JudgeOptions, *, source: Path,
                    output: str, resume: bool, actors: int, shard_rows: int, kind: Kind = "score",
                    on_row: Callable[[dict[str, Any]], None] | None = None, record: RunRecord | None = None) -> RunSummary:
    """The summary of the run; `on_row` sees each output row judged (not those resumed)."""
    if output == "-":
        raise InputError("--ray writes its rows to a file: give -o PATH", field="--output")
    try:
        from judgekit import ray as on_ray  # the [ray] extra: imported only when asked for
    except ImportError as exc:
        raise InputError(f"--ray needs Ray: pip install 'judgekit[ray]' ({exc})", field="--ray") from None
    started = time.perf_counter()
    summary = RunSummary(rows=len(rows))
    calls: Counter[str] = Counter()

    def on_shard(done: on_ray.ShardDone) -> None:
        if done.resumed:
            summary.resumed += len(done.rows)
            return
        for row in done.rows:
            summary.note(row, judged=ROW_FAILED not in row["unscored"])
            if on_row is not None:
                on_row(row)
        calls.update(done.stats)

    on_ray.judge_file(rows, source=source, output=Path(output), work=on_ray.Work(kind, rubric, explain),
                      setup=JudgeRecipe(options.spec, options.base_url, options.config), actors=actors,
                      shard_rows=shard_rows, resume=resume, on_shard=on_shard, record=record)
    summary.seconds = time.perf_counter() - started
    summary.stats = {name: calls[name] for name in RunStats().as_dict()}
    return summary
