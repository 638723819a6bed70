"""`score --ray` and `compare --ray`: a file's rows judged on a Ray pool (judgekit.ray), counted into
the run summary as each shard is written."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from judgekit.cli.options import JudgeOptions
from judgekit.cli.runfile import OutputRow, RunStopped, RunSummary
from judgekit.data.rows import InputRow
from judgekit.data.runrecord import RunRecord
from judgekit.errors import InputError, JudgeUnreachable, RunHalted
from judgekit.judging.agreement import AgreementLog
from judgekit.judging.results import ROW_FAILED
from judgekit.llm.budget import Budget
from judgekit.llm.pricing import Pricing, pricing_for
from judgekit.llm.usage import RunStats
from judgekit.rubric.models import Rubric
from judgekit.secrets import redact

if TYPE_CHECKING:
    from judgekit.judging.cascade import CascadeLog

Kind = Literal["score", "compare"]


def run_file_on_ray(rows: list[InputRow], rubric: Rubric | None, explain: bool, options: JudgeOptions, *, source: Path,
                    output: str, resume: bool, actors: int, shard_rows: int, kind: Kind = "score",
                    on_row: Callable[[OutputRow], None] | None = None, record: RunRecord | None = None) -> RunSummary:
    """The summary of the run; `on_row` sees each output row judged (not those resumed)."""
    if output == "-":
        raise InputError("--ray writes its rows to a file: give -o PATH", field="--output")
    try:
        from judgekit import ray as on_ray  # the [ray] extra: imported only when asked for
    except ImportError as exc:
        raise InputError(f"--ray needs Ray: pip install 'judgekit[ray]' ({exc})", field="--ray") from None
    prices = _prices(options)  # checked here, as a plain run's Judge does: --max-cost needs a priced model
    started = time.perf_counter()
    summary = RunSummary(rows=len(rows))
    calls: Counter[str] = Counter()
    spent = Decimal(0)
    agreement = AgreementLog()  # gathered from every actor's shards: the plain run's agreement line
    cascade: list[CascadeLog] = []  # a cascade's counts, likewise

    def on_shard(done: on_ray.ShardDone) -> None:
        nonlocal spent
        spent += done.spent
        if done.resumed:
            summary.resumed += len(done.rows)
            return
        for row in done.rows:
            summary.note(row, judged=ROW_FAILED not in row["unscored"])
            if on_row is not None:
                on_row(row)
        calls.update(done.stats)
        agreement.merge(done.agreement)
        if done.cascade is not None:
            cascade[:] = [cascade[0].merge(done.cascade) if cascade else done.cascade]

    try:
        on_ray.judge_file(rows, source=source, output=Path(output), work=on_ray.Work(kind, rubric, explain),
                          setup=options.spec, actors=actors, shard_rows=shard_rows, resume=resume, on_shard=on_shard,
                          record=record)
    except JudgeUnreachable:  # found before the first row, as in a plain run: nothing judged, no summary
        raise
    except RunHalted as exc:  # the run's limit: the shards written stay for --resume; every call is counted
        summary.stopped = True
        summary.cascade = cascade[0].as_dict() if cascade else None
        raise RunStopped(exc.exit_code, f"error: {redact(str(exc))}", _totals(summary, started, calls, spent, prices, agreement),
                         output) from None
    summary.cascade = cascade[0].as_dict() if cascade else None
    return _totals(summary, started, calls, spent, prices, agreement)


def _prices(options: JudgeOptions) -> list[Pricing]:
    """The prices of the run's models (each judge of a panel, the generator); a limit they cannot keep is bad input."""
    specs = [seat.judge for seat in options.spec.seats()]
    prices = [pricing_for(spec) for spec in [*specs, *filter(None, [options.config.generator])]]
    budget = Budget(options.config.max_calls, options.config.max_cost)
    for pricing in prices:
        budget.price_with(pricing)
    return prices


def _totals(summary: RunSummary, started: float, calls: Counter[str], spent: Decimal, prices: list[Pricing],
            agreement: AgreementLog) -> RunSummary:
    summary.seconds = time.perf_counter() - started
    summary.agreement = agreement.as_dict()
    summary.stats = {name: calls[name] for name in RunStats().as_dict()}
    unpriced = next((p for p in prices if p.prices is None), None)
    summary.cost_usd = float(spent) if unpriced is None else None
    summary.cost_note = unpriced.reason if unpriced is not None else None
    return summary
