"""Ray Data: judging on a pool of actors, one Judge each, on one machine or a cluster (extra `[ray]`).

- `score(ds, rubric, ...)` / `compare(ds, rubric, ...)`: a lazy Dataset with one row per input row:
  `id`, the reward (`winner` and `margin` for pairs) and `result`, the output row as the JSON line
  `judgekit score` (`compare`) writes. `write(results, path)` writes it from the workers, as JSONL
  files holding exactly those lines, or as Parquet.
- `judge_file(...)`: `judgekit score --ray` over a file's rows. The rows are cut into shards of
  consecutive rows; each shard is judged by one actor and written once, atomically, as its own part
  file, so an interrupted run resumes shard by shard and a shard retried by Ray (its actor died) is
  never written twice. When every shard is done the parts become the output file, in input order.

Each actor builds its Judge from a `JudgeSpec` (a spec string, its servers and a JudgeConfig, or a
panel's judges: nothing that holds a client, a loop or a lock), and judges a batch's rows through
the row engine (judgekit.llm.engine) with the Judge's own `concurrency`. Ray restarts an actor that
dies and retries its batch.

Limits (`max_calls`, `max_cost`) are one budget for the whole run: a small ledger actor counts every
call before it is sent and adds up what each answer cost, so `max_calls` is never passed and
`max_cost` by at most the calls in flight (actors x concurrency). At the limit a shard is not written
(`--resume` judges it) and the run stops with LimitReached, every call it made counted.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
import ray.data
from ray.data.block import BlockAccessor
from ray.data.datasource import BlockBasedFileDatasink

from judgekit.data.outfile import dumps, make_parent, not_a_file, open_locked, refuse_input_as_output
from judgekit.data.rows import ALIASES, InputRow, pick, to_input_rows
from judgekit.data.runrecord import RunRecord, keep_record, refuse_input_as_record
from judgekit.errors import InputError, LimitReached, RowFailure
from judgekit.judge import Judge, JudgeLike, JudgeSpec, judge_spec
from judgekit.judging.agreement import AgreementLog
from judgekit.judging.cascade import CascadeLog
from judgekit.judging.results import CompareResult, ScoreResult
from judgekit.llm.budget import Budget
from judgekit.llm.engine import map_rows
from judgekit.llm.pricing import Pricing
from judgekit.rubric.models import Rubric, load_rubric

Kind = Literal["score", "compare"]
REQUIRED: dict[Kind, tuple[str, ...]] = {"score": ("prompt", "response"), "compare": ("prompt", "response_a", "response_b")}
_LAYOUT = "layout.json"


@dataclass(frozen=True)
class Work:
    """What is done with each row: scored or compared, against which rubric, with the reasoning or not."""

    kind: Kind
    rubric: Rubric | None = None
    explain: bool = False


async def judge_row(judge: Judge, work: Work, row: InputRow) -> dict[str, Any]:
    """The output row of one input row (one that could not be read: without a result, with the reason)."""
    if row.problem is not None:
        return _failed(work.kind, row.id, RowFailure(row.problem, "input"))
    if work.kind == "score":
        return (await judge.ascore_row(row, work.rubric, work.explain)).model_dump()
    return (await judge.acompare_row(row, work.rubric, work.explain)).model_dump()


def _failed(kind: Kind, row_id: Any, why: RowFailure) -> dict[str, Any]:
    result = ScoreResult.failed(row_id, why) if kind == "score" else CompareResult.failed(row_id, why)
    return result.model_dump()


@ray.remote(num_cpus=0)
class Ledger:
    """The one budget of a run's actors: `take()` before each call (None, or why no call may start),
    `spend(dollars)` after each answer."""

    def __init__(self, max_calls: int | None, max_cost: float | None) -> None:
        self.budget = Budget(max_calls, max_cost)
        self.calls = 0

    def take(self) -> str | None:
        try:
            self.budget.check(self.calls)
        except LimitReached as exc:
            return str(exc)
        self.calls += 1
        return None

    def spend(self, dollars: str) -> None:
        self.budget.spent += Decimal(dollars)


class _LedgerBudget(Budget):
    """An actor's view of the run's budget: each call is counted by the ledger before it is sent (a
    blocking round trip, only when the run has a limit), each answer's cost added to it."""

    def __init__(self, ledger: ray.actor.ActorHandle) -> None:
        super().__init__()
        self.ledger = ledger

    def check(self, calls: int) -> None:
        refused = ray.get(self.ledger.take.remote())
        if refused is not None:
            raise LimitReached(refused)

    def spend(self, pricing: Pricing, prompt_tokens: int, completion_tokens: int) -> None:
        before = self.spent
        super().spend(pricing, prompt_tokens, completion_tokens)
        if self.spent != before:
            self.ledger.spend.remote(str(self.spent - before))


def shared_limits(setup: JudgeSpec) -> tuple[JudgeSpec, ray.actor.ActorHandle | None]:
    """The judge without its limits and the ledger that holds them for every actor (None: no limit)."""
    config = setup.config
    if config.max_calls is None and config.max_cost is None:
        return setup, None
    ledger = Ledger.remote(config.max_calls, config.max_cost)  # type: ignore[attr-defined]
    return setup.with_config(config.model_copy(update={"max_calls": None, "max_cost": None})), ledger


class _JudgeActor:
    """One Judge per actor, built once; all rows of a batch judged at once on its loop."""

    def __init__(self, setup: JudgeSpec, work: Work, ledger: ray.actor.ActorHandle | None = None) -> None:
        self.judge = setup.build(_LedgerBudget(ledger) if ledger is not None else None)
        self.work = work

    def judge_rows(self, rows: list[InputRow]) -> list[dict[str, Any]]:
        """The rows' output rows, through the row engine: a row's own error is a failed row with its
        reason; a limit (LimitReached) or a dead judge is raised once the rows in flight finish (so
        every call sent is counted), a crash at once."""
        return self.judge.run(map_rows(rows, lambda row: judge_row(self.judge, self.work, row),
                                       concurrency=self.judge.config.concurrency,
                                       failed=lambda row, why: _failed(self.work.kind, row.id, why)))


class DatasetJudge(_JudgeActor):
    """The `map_batches` callable over a Dataset of records: id, reward (or winner, margin), result."""

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [_record_row(record, self.work.kind) for record in batch.to_pylist()]
        return result_table(self.work.kind, self.judge_rows(rows))


def _record_row(record: dict[str, Any], kind: Kind) -> InputRow:
    try:
        return to_input_rows([_absent_nulls(record)], REQUIRED[kind])[0]
    except InputError as exc:  # one bad row is one bad row
        return InputRow(index=0, line=0, id=pick(record, "id", {})[1], data=record, problem=str(exc))


def _absent_nulls(value: Any) -> Any:
    """A record without the null fields Arrow puts in: the rows of a column of objects share one struct
    type, so a key that one row's object has is null in every other row's (a row rubric's criteria)."""
    if isinstance(value, dict):
        return {k: _absent_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_absent_nulls(v) for v in value]
    return value


def result_table(kind: Kind, results: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {"id": pa.array([r["id"] for r in results])}
    if kind == "score":
        columns["reward"] = pa.array([r["reward"] for r in results], pa.float64())
    else:
        columns["winner"] = pa.array([r["winner"] for r in results], pa.string())
        columns["margin"] = pa.array([r["margin"] for r in results], pa.float64())
    columns["result"] = pa.array([dumps(r) for r in results], pa.string())
    return pa.table(columns)


# ---- Datasets ------------------------------------------------------------------------------------


# score()'s and compare()'s own arguments, offered for a misspelled one besides JudgeConfig's fields.
_ARGUMENTS = ("rubric", "judge", "base_url", "actors", "batch_size", "explain", "ray_remote_args")


def score(ds: ray.data.Dataset, rubric: Rubric | str | Path | None = None, *, judge: JudgeLike = "local",
          base_url: str | list[str] | None = None, actors: int = 2, batch_size: int = 64, explain: bool = False,
          ray_remote_args: dict[str, Any] | None = None, **config: object) -> ray.data.Dataset:
    """Each row's response against the rubric (rows may carry their own): id, reward, result.
    `judge`: a spec string, a JudgeSpec (a panel's too) or a Judge (its JudgeSpec: each actor builds
    its own); `base_url` and JudgeConfig's fields in `config` are a shorthand for a spec string's
    JudgeSpec. `ray_remote_args`: the actors' resources (e.g. {"num_gpus": 1} for an in-process vLLM judge)."""
    setup = judge_spec(judge, call="judgekit.ray.score()", base_url=base_url, settings=config, arguments=_ARGUMENTS)
    return judge_dataset(ds, Work("score", _rubric(rubric), explain), setup, actors, batch_size, ray_remote_args)


def compare(ds: ray.data.Dataset, rubric: Rubric | str | Path | None = None, *, judge: JudgeLike = "local",
            base_url: str | list[str] | None = None, actors: int = 2, batch_size: int = 64, explain: bool = False,
            ray_remote_args: dict[str, Any] | None = None, **config: object) -> ray.data.Dataset:
    """Each row's response_a against response_b, in both orders: id, winner, margin, result (`judge` as for score)."""
    setup = judge_spec(judge, call="judgekit.ray.compare()", base_url=base_url, settings=config, arguments=_ARGUMENTS)
    return judge_dataset(ds, Work("compare", _rubric(rubric), explain), setup, actors, batch_size, ray_remote_args)


def judge_dataset(ds: ray.data.Dataset, work: Work, setup: JudgeSpec, actors: int, batch_size: int,
                  ray_remote_args: dict[str, Any] | None = None) -> ray.data.Dataset:
    _require_ids(ds)
    setup, ledger = shared_limits(setup)
    return ds.map_batches(DatasetJudge, fn_constructor_args=(setup, work, ledger), batch_format="pyarrow", batch_size=batch_size,
                          compute=ray.data.ActorPoolStrategy(size=actors), **(ray_remote_args or {}))


def _rubric(rubric: Rubric | str | Path | None) -> Rubric | None:
    return load_rubric(rubric) if isinstance(rubric, (str, Path)) else rubric


def _require_ids(ds: ray.data.Dataset) -> None:
    """Results are matched to rows by id, and a Dataset's rows have no line number to stand in for one."""
    schema = ds.schema()
    names = set(schema.names) if schema is not None else set()
    if not names & set(ALIASES["id"]):
        raise InputError(f"a Ray Dataset's rows need an id column ({' / '.join(ALIASES['id'])})", field="id")


class JsonlDatasink(BlockBasedFileDatasink):
    """Writes the `result` column: each file holds judgekit's output rows, one JSON line each."""

    def __init__(self, path: str) -> None:
        super().__init__(path, file_format="jsonl")

    def write_block_to_file(self, block: BlockAccessor, file: pa.NativeFile) -> None:
        for line in block.to_arrow().column("result").to_pylist():
            file.write((line + "\n").encode("utf-8"))


def write(results: ray.data.Dataset, path: str, *, format: Literal["jsonl", "parquet"] = "jsonl") -> None:
    """Write judged rows into the folder `path` (any filesystem Ray reaches: local, NFS, s3://...)."""
    if format == "parquet":
        results.write_parquet(path)
    else:
        results.write_datasink(JsonlDatasink(path))


# ---- files: `judgekit score --ray` ---------------------------------------------------------------


@dataclass(frozen=True)
class ShardDone:
    """One shard written: its output rows in input order, the judge calls they took and their cost
    in USD (none when the shard was already written by an earlier run). `halted`: the run's limit was
    reached in this shard, which is not written (no rows): why."""

    index: int
    rows: list[dict[str, Any]]
    stats: dict[str, int]
    resumed: bool = False
    spent: Decimal = Decimal(0)
    halted: str | None = None
    agreement: AgreementLog = field(default_factory=AgreementLog)  # the units of the shard's self- and inter-judge agreement
    cascade: CascadeLog | None = None  # a cascade's counts per level for the shard


class ShardJudge(_JudgeActor):
    """The `map_batches` callable over shards: each item is one shard's rows, judged by this actor."""

    def __call__(self, batch: pa.Table) -> pa.Table:
        shards, texts, stats, spent, agreement, cascade = [], [], [], [], [], []
        halted: list[str | None] = []
        for item in batch.to_pylist():
            before, spent_before, units_before = self.judge.stats.as_dict(), self.judge.budget.spent, self.judge.agreement.size()
            levels_before = copy.deepcopy(self.judge.cascade)
            try:  # the rows in flight finish before a limit is raised (the row engine): every call is counted
                texts.append("".join(dumps(row) + "\n" for row in self.judge_rows(pickle.loads(item["rows"]))))
                halted.append(None)
            except LimitReached as exc:
                texts.append("")
                halted.append(str(exc))
            after = self.judge.stats.as_dict()
            shards.append(item["shard"])
            stats.append(json.dumps({k: after[k] - before[k] for k in after}))
            spent.append(str(self.judge.budget.spent - spent_before))
            agreement.append(pickle.dumps(self.judge.agreement.since(units_before)))
            levels = self.judge.cascade
            cascade.append(pickle.dumps(levels.since(levels_before)) if levels is not None and levels_before is not None else b"")
        return pa.table({"shard": pa.array(shards, pa.int64()), "lines": pa.array(texts, pa.large_string()),
                         "stats": pa.array(stats, pa.string()), "spent": pa.array(spent, pa.string()),
                         "halted": pa.array(halted, pa.string()), "agreement": pa.array(agreement, pa.large_binary()),
                         "cascade": pa.array(cascade, pa.large_binary())})


@dataclass(frozen=True)
class FileParts:
    """The part files of an output file, in OUTPUT.parts/: one per shard, each written once and whole."""

    folder: Path
    shard_rows: int

    @classmethod
    def open(cls, output: Path, total: int, shard_rows: int, resume: bool) -> FileParts:
        """With --resume, the parts of the interrupted run (and its shard size); else a fresh folder."""
        folder = output.with_name(output.name + ".parts")
        layout = folder / _LAYOUT
        if resume and layout.is_file():
            saved = json.loads(layout.read_text(encoding="utf-8"))
            if saved["rows"] != total:
                raise InputError(f"these parts are of an input of {saved['rows']} rows, this input has {total}",
                                 file=str(folder), field="--resume")
            return cls(folder, int(saved["shard_rows"]))
        parts = cls(folder, shard_rows)
        parts.remove()
        folder.mkdir(parents=True, exist_ok=True)
        write_whole(layout, [json.dumps({"rows": total, "shard_rows": shard_rows})])
        return parts

    def path(self, shard: int) -> Path:
        return self.folder / f"part-{shard:06d}.jsonl"

    def read(self, shard: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path(shard).read_text(encoding="utf-8").splitlines()]

    def join(self, output: Path, shards: int) -> None:
        """The output file: every part, in shard order (so in input order); then the parts are removed."""
        write_whole(output, (line for k in range(shards) for line in self.path(k).open(encoding="utf-8")))
        self.remove()

    def remove(self) -> None:
        """Remove this folder's part files, layout and temporary files (nothing else), then the folder if empty."""
        if not self.folder.is_dir():
            return
        for name in ("part-*.jsonl", _LAYOUT, ".*.tmp"):
            for path in self.folder.glob(name):
                path.unlink()
        if not any(self.folder.iterdir()):
            self.folder.rmdir()


def write_whole(path: Path, lines: Iterable[str]) -> None:
    """`path` appears with all its lines or not at all: written beside it, then renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def judge_file(rows: list[InputRow], *, source: Path, output: Path, work: Work, setup: JudgeSpec, actors: int,
               shard_rows: int, resume: bool, on_shard: Callable[[ShardDone], None],
               ray_remote_args: dict[str, Any] | None = None, record: RunRecord | None = None) -> None:
    """Judge a file's rows on a Ray pool (RAY_ADDRESS's cluster, else a local instance), shard by shard;
    `on_shard(ShardDone)` after each shard is written (or halted at the run's limit); the output file
    once all are, else LimitReached (the shards written stay, for --resume). `record`: what makes the
    rows, checked on --resume of a run whose parts are kept (judgekit.data.runrecord). A judge server
    that does not answer is JudgeUnreachable before Ray starts (see JudgeSpec.check_servers)."""
    refuse_input_as_output(source, output)
    if record is not None:
        refuse_input_as_record(source, output)
    make_parent(output)
    with open_locked(output):  # as a single-process run does: one run writes an output file at a time
        if not output.is_file():  # /dev/null: the parts would be made beside it and renamed over it
            raise not_a_file(output, "--ray writes its rows whole into")
        if record is not None:
            keep_record(output, record, resume=resume,
                        has_rows=(output.with_name(output.name + ".parts") / _LAYOUT).is_file())
        setup.check_servers()  # as a plain run: once the output is known good, before Ray starts and any part is written
        _judge_file_locked(rows, output=output, work=work, setup=setup, actors=actors, shard_rows=shard_rows,
                           resume=resume, on_shard=on_shard, ray_remote_args=ray_remote_args)


def _judge_file_locked(rows: list[InputRow], *, output: Path, work: Work, setup: JudgeSpec, actors: int,
                       shard_rows: int, resume: bool, on_shard: Callable[[ShardDone], None],
                       ray_remote_args: dict[str, Any] | None) -> None:
    parts = FileParts.open(output, len(rows), shard_rows, resume)
    shards = [rows[i : i + parts.shard_rows] for i in range(0, len(rows), parts.shard_rows)]
    todo = [k for k in range(len(shards)) if not parts.path(k).is_file()]
    for k in sorted(set(range(len(shards))) - set(todo)):
        on_shard(ShardDone(k, parts.read(k), {}, resumed=True))
    halted = None
    if todo:
        for done in _judge_shards({k: shards[k] for k in todo}, work, setup, actors, ray_remote_args):
            if done.halted is None:
                write_whole(parts.path(done.index), (dumps(row) + "\n" for row in done.rows))
            halted = halted or done.halted
            on_shard(done)
    if halted is not None:
        raise LimitReached(halted)
    parts.join(output, len(shards))


def _judge_shards(shards: dict[int, list[InputRow]], work: Work, setup: JudgeSpec, actors: int,
                  ray_remote_args: dict[str, Any] | None) -> Iterator[ShardDone]:
    """Each shard's rows as they come back from the pool, in the order the shards finish."""
    if not ray.is_initialized():
        ray.init()
    setup, ledger = shared_limits(setup)
    items = [{"shard": k, "rows": pickle.dumps(rows)} for k, rows in shards.items()]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    judged = ds.map_batches(ShardJudge, fn_constructor_args=(setup, work, ledger), batch_format="pyarrow", batch_size=1,
                            compute=ray.data.ActorPoolStrategy(size=max(1, min(actors, len(items)))),
                            **(ray_remote_args or {}))
    for batch in judged.iter_batches(batch_size=None, batch_format="pyarrow"):
        for item in cast("pa.Table", batch).to_pylist():  # batch_format="pyarrow"
            rows = [json.loads(line) for line in item["lines"].splitlines()]
            yield ShardDone(item["shard"], rows, json.loads(item["stats"]), spent=Decimal(item["spent"]),
                            halted=item["halted"], agreement=pickle.loads(item["agreement"]),
                            cascade=pickle.loads(item["cascade"]) if item["cascade"] else None)
