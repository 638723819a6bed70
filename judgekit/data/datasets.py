"""Readers for public human-labelled preference data, as pairs for `judgekit eval`.

Every reader yields EvalPair(id, subset, prompt, response_a, response_b, label) with label
"A" | "B" | "tie" (the human preference). Files are read in place, never copied.

- llmbar: LLMBar JSON lists {input, output_1, output_2, label 1|2}; a file or a folder of them
  (each file a subset: natural, adversarial-*, mtbench-human).
- judgebench: JudgeBench JSONL {question, response_A, response_B, label "A>B"|"B>A"|"A=B"}
  (subset: the row's `source`, else the file name).
- pandalm: PandaLM testset-v1.json {instruction, input, response1, response2, annotator1..3 with
  0 tie, 1, 2}; the label is the annotators' majority (rows with no majority are skipped).
- evalbiasbench: EvalBiasBench {bias type: [{instruction, response1, response2, label 1}]}:
  the better response is always response1, so the order is shuffled with a seeded RNG (subset:
  the bias type).
- hh-rlhf: Anthropic HH-RLHF JSONL(.gz) {chosen, rejected}, whole dialogues: the last Assistant
  turn of each is the response, the shared dialogue before it is the prompt (chat messages); the
  order is shuffled with a seeded RNG, as the chosen reply would otherwise always be A.

Two more layouts are not pairs: RewardBench 2's best-of-4 rows (read_rewardbench2) and rows carrying
a human verdict per criterion (read_labelled).

Each pair format is also read from a Parquet file, a dataset saved with `datasets`' `save_to_disk` or
a hub dataset (`split` picks its split), whose rows have the fields of that format's records (an
EvalBiasBench table is one subset, "all").

`limit` keeps at most N pairs (rows) per subset: a seeded random sample, kept in file order.

Readers yield one item at a time; a `Stream` reads its file anew on each pass, so `judgekit eval`
never holds the data: one pass (`scan`) checks every item and notes, per item kept, only its subset
and the hash of its id, before any judging; the next yields the items kept, to be judged.
"""

from __future__ import annotations

import random
import re
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from judgekit.data.reader import is_table, json_records, load_json, records
from judgekit.data.rows import JUDGEBENCH_LABELS, FileRows, RowId, id_hash
from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue

if TYPE_CHECKING:  # numpy is imported where items are kept, not to read the command line
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class EvalPair:
    id: str
    subset: str
    prompt: JSONValue  # a string or chat messages, as the data set gives it
    response_a: str
    response_b: str
    label: str  # "A" | "B" | "tie"


def _need(obj: Mapping[str, object], key: str, path: Path, where: int, *, what: str = "record") -> Any:
    if key not in obj or obj[key] is None:
        raise InputError(f"{what} {where} has no '{key}'", file=str(path), field=key)
    return obj[key]


def _list_of_records(data: object, path: Path) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError("expected a JSON list of objects", file=str(path))
    return data


# ---- the readers ----------------------------------------------------------------------------------


def _json_or_table(path: Path, split: str | None) -> JSONValue:
    """A whole JSON file, or the rows of a table (Parquet, a saved or hub dataset) as a list of objects."""
    return [rec.obj for rec in records(path, split=split)] if is_table(path) else load_json(path)


def read_llmbar(path: Path, rng: random.Random, split: str | None = None) -> Iterator[EvalPair]:
    files = sorted(path.glob("*.json")) if path.is_dir() and not is_table(path) else [path]
    for file in files:
        subset = file.stem
        for i, rec in enumerate(_list_of_records(_json_or_table(file, split), file)):
            label = _need(rec, "label", file, i)
            if label not in (1, 2, "1", "2"):
                raise InputError(f"record {i}: label must be 1 or 2, got {label!r}", file=str(file), field="label")
            yield EvalPair(
                f"{subset}:{i}", subset, _need(rec, "input", file, i), str(_need(rec, "output_1", file, i)),
                str(_need(rec, "output_2", file, i)), "A" if int(label) == 1 else "B",
            )


def read_judgebench(path: Path, rng: random.Random, split: str | None = None) -> Iterator[EvalPair]:
    for line_no, _, rec in records(path, split=split):
        label = rec.get("label")
        if label not in JUDGEBENCH_LABELS:
            raise InputError(f"label must be one of {', '.join(JUDGEBENCH_LABELS)}, got {label!r}", file=str(path),
                             line=line_no, field="label")
        for key in ("question", "response_A", "response_B"):
            if rec.get(key) is None:
                raise InputError("required field is missing", file=str(path), line=line_no, field=key)
        subset = str(rec.get("source") or path.stem.removesuffix(".jsonl"))
        pid = rec.get("pair_id", rec.get("id", line_no))
        yield EvalPair(f"{subset}:{pid}", subset, rec["question"], str(rec["response_A"]),
                       str(rec["response_B"]), JUDGEBENCH_LABELS[label])


def read_pandalm(path: Path, rng: random.Random, split: str | None = None) -> Iterator[EvalPair]:
    for i, rec in enumerate(_list_of_records(_json_or_table(path, split), path)):
        votes: list[Any] = [rec[f"annotator{k}"] for k in (1, 2, 3) if rec.get(f"annotator{k}") is not None]
        if not votes:
            raise InputError(f"record {i} has no annotator1..3", file=str(path), field="annotator1")
        top = max(set(votes), key=votes.count)
        if votes.count(top) * 2 <= len(votes):
            continue  # no majority among the annotators
        instruction = str(_need(rec, "instruction", path, i))
        extra = str(rec.get("input") or "").strip()
        prompt = f"{instruction}\n\n{extra}" if extra else instruction
        label = {0: "tie", 1: "A", 2: "B"}.get(int(top))
        if label is None:
            raise InputError(f"record {i}: annotator votes must be 0, 1 or 2, got {top!r}", file=str(path), field="annotator1")
        yield EvalPair(f"pandalm:{rec.get('idx', i)}", "pandalm", prompt, str(_need(rec, "response1", path, i)),
                       str(_need(rec, "response2", path, i)), label)


def read_evalbiasbench(path: Path, rng: random.Random, split: str | None = None) -> Iterator[EvalPair]:
    data = _json_or_table(path, split)
    groups = data.items() if isinstance(data, dict) else [("all", data)]
    for bias, group in groups:
        subset = str(bias).replace(" bias", "").replace(" ", "-")
        for i, rec in enumerate(_list_of_records(group, path)):
            better, worse = str(_need(rec, "response1", path, i)), str(_need(rec, "response2", path, i))
            if rec.get("label", 1) not in (1, "1"):
                better, worse = worse, better
            swap = rng.random() < 0.5
            a, b = (worse, better) if swap else (better, worse)
            yield EvalPair(f"{subset}:{i}", subset, _need(rec, "instruction", path, i), a, b, "B" if swap else "A")


_TURN = re.compile(r"\n\n(Human|Assistant):")


def split_dialogue(text: str) -> tuple[list[dict[str, str]], str]:
    """An HH-RLHF dialogue as (chat messages before the last Assistant turn, that turn's text)."""
    marks = list(_TURN.finditer(text))
    turns: list[tuple[str, str]] = []
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        turns.append(("user" if m.group(1) == "Human" else "assistant", text[m.end():end].strip()))
    if not turns or turns[-1][0] != "assistant":
        raise ValueError("the dialogue does not end with an Assistant turn")
    return [{"role": r, "content": c} for r, c in turns[:-1]], turns[-1][1]


def read_hh_rlhf(path: Path, rng: random.Random, split: str | None = None) -> Iterator[EvalPair]:
    for line_no, _, rec in records(path, split=split):
        try:
            prompt, chosen = split_dialogue(str(_need(rec, "chosen", path, line_no, what="line")))
            _, rejected = split_dialogue(str(_need(rec, "rejected", path, line_no, what="line")))
        except ValueError as exc:
            raise InputError(str(exc), file=str(path), line=line_no, field="chosen") from None
        swap = rng.random() < 0.5
        a, b = (rejected, chosen) if swap else (chosen, rejected)
        yield EvalPair(f"hh-rlhf:{line_no}", path.name.split(".")[0], prompt, a, b, "B" if swap else "A")


READERS: dict[str, Callable[[Path, random.Random, str | None], Iterator[EvalPair]]] = {
    "llmbar": read_llmbar,
    "judgebench": read_judgebench,
    "pandalm": read_pandalm,
    "evalbiasbench": read_evalbiasbench,
    "hh-rlhf": read_hh_rlhf,
}
PAIR_FORMATS = tuple(READERS)
FORMATS = (*PAIR_FORMATS, "rewardbench2", "labels")


class Item(Protocol):
    """What a stream needs of an item: its id and its subset."""

    @property
    def id(self) -> JSONValue: ...

    @property
    def subset(self) -> str: ...


T = TypeVar("T", bound=Item)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use {' | '.join(FORMATS)}", field="--format")


def read_pairs(path: str | Path, fmt: str, *, limit: int | None = None, seed: int = 0,
               split: str | None = None) -> list[EvalPair]:
    """The labelled pairs of a data file (or an LLMBar folder, or a table), at most `limit` per subset."""
    return list(pair_stream(path, fmt, limit=limit, seed=seed, split=split))


def pair_stream(path: str | Path, fmt: str, *, limit: int | None = None, seed: int = 0,
                split: str | None = None) -> Stream[EvalPair]:
    """`read_pairs` read anew on each pass (the shuffles seeded anew, so every pass yields the same pairs)."""
    check_format(fmt)
    if fmt not in READERS:
        raise InputError(f"format {fmt} is not a file of labelled pairs", field="--format")
    where = _existing(path, folder_ok=fmt == "llmbar", fmt=fmt)
    return Stream(lambda: READERS[fmt](where, random.Random(seed), split), limit, seed)


def _existing(path: str | Path, *, folder_ok: bool = False, fmt: str = "") -> Path:
    path = Path(path)
    if not path.exists() and not is_table(path):
        raise InputError("data file not found", file=str(path))
    if path.is_dir() and not folder_ok and not is_table(path):
        raise InputError(f"format {fmt} reads one file, not a folder", file=str(path))
    return path


@dataclass(frozen=True)
class Scan:
    """What a pass over a stream found: the subsets, and per item kept its subset and the hash of its id."""

    names: list[str]  # the subsets in order of first appearance
    subset: NDArray[np.int32]  # per item kept: an index into names
    ids: NDArray[np.uint64]  # per item kept: judgekit.data.rows.id_hash of its id

    def __len__(self) -> int:
        return len(self.subset)


@dataclass
class Stream(Generic[T]):
    """The items of a data file, read anew on each pass; at most `limit` per subset: a seeded random
    sample, kept in file order. `scan()` reads (and so checks) every item once; iterating yields the
    items kept."""

    read: Callable[[], Iterator[T]]
    limit: int | None = None
    seed: int = 0
    _scan: Scan | None = field(default=None, init=False, repr=False)
    _kept: NDArray[np.bool_] | None = field(default=None, init=False, repr=False)

    def scan(self) -> Scan:
        if self._scan is None:
            names: dict[str, int] = {}
            codes, ids = array("i"), array("Q")
            for item in self.read():
                codes.append(names.setdefault(item.subset, len(names)))
                ids.append(id_hash(item.id))
            import numpy as np  # see above

            all_codes = np.frombuffer(codes, dtype=np.int32).copy()
            self._kept = _kept(all_codes, len(names), self.limit, self.seed)
            self._scan = Scan(list(names), all_codes[self._kept], np.frombuffer(ids, dtype=np.uint64)[self._kept])
        return self._scan

    def __iter__(self) -> Iterator[T]:
        self.scan()
        kept = self._kept
        assert kept is not None
        return (item for k, item in enumerate(self.read()) if kept[k])


def _kept(codes: NDArray[np.int32], subsets: int, limit: int | None, seed: int) -> NDArray[np.bool_]:
    import numpy as np

    """Which items to keep: all, or at most `limit` per subset (seeded; the subsets drawn in order)."""
    if limit is None:
        return np.ones(len(codes), dtype=bool)
    sampler, kept = random.Random(seed), np.zeros(len(codes), dtype=bool)
    for code in range(subsets):
        members = np.flatnonzero(codes == code)
        # sample(range(n)) picks the same positions as sampling the members themselves would
        kept[members if len(members) <= limit else members[sampler.sample(range(len(members)), limit)]] = True
    return kept


# ---- RewardBench 2: one prompt, the correct response(s) and the rejected ones ----------------------


@dataclass(frozen=True)
class BestOfN:
    id: str
    subset: str
    prompt: JSONValue  # as the data set gives it (`as_text`: as judged)
    chosen: list[str]  # one correct response; several in the Ties subset
    rejected: list[str]

    @property
    def responses(self) -> list[str]:
        return [*self.chosen, *self.rejected]


TIES = "Ties"
_TIES_ID = re.compile(r"^(ref|tied):(\d+)$")


def read_rewardbench2(path: str | Path, *, limit: int | None = None, seed: int = 0) -> list[BestOfN]:
    """RewardBench 2 rows {id, prompt, chosen: [..], rejected: [..], subset} (its test split exported as
    JSONL, e.g. with `datasets`' to_json). Ties rows are named "ref:N" (one correct answer) or
    "tied:N" (several) and scored together by prompt N."""
    return list(rewardbench2_stream(path, limit=limit, seed=seed))


def rewardbench2_stream(path: str | Path, *, limit: int | None = None, seed: int = 0) -> Stream[BestOfN]:
    where = _existing(path, fmt="rewardbench2")
    return Stream(lambda: _rewardbench2_rows(where), limit, seed)


def _rewardbench2_rows(path: Path) -> Iterator[BestOfN]:
    for line_no, _, rec in json_records(path):
        texts = {key: _text_list(rec, key, path, line_no) for key in ("chosen", "rejected")}
        subset = str(rec.get("subset") or "all")
        row_id = str(rec.get("id", line_no))
        if subset == TIES and not _TIES_ID.match(row_id):
            raise InputError(f"a Ties row's id must be ref:N or tied:N, got {row_id!r}", file=str(path), line=line_no, field="id")
        if rec.get("prompt") is None:
            raise InputError("required field is missing", file=str(path), line=line_no, field="prompt")
        yield BestOfN(row_id, subset, rec["prompt"], texts["chosen"], texts["rejected"])


def ties_prompt(row_id: str) -> tuple[str, int]:
    """("ref" | "tied", prompt number) of a Ties row's id."""
    kind, number = row_id.split(":")
    return kind, int(number)


def _text_list(rec: Mapping[str, object], key: str, path: Path, line_no: int) -> list[str]:
    value = rec.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError("must be a non-empty list of response texts", file=str(path), line=line_no, field=key)
    return value


# ---- human verdicts per criterion -----------------------------------------------------------------


@dataclass(frozen=True)
class LabelledRow:
    id: RowId
    line: int
    prompt: JSONValue  # as the row gives them (`as_text`: as judged)
    response: JSONValue
    reference: JSONValue
    labels: dict[str, int]  # criterion id -> 1 (MET) | 0
    subset: str = "all"


def read_labelled(path: str | Path, criteria: Sequence[str], *, limit: int | None = None, seed: int = 0,
                  rated: Sequence[str] = ()) -> list[LabelledRow]:
    """Rows {prompt, response, labels: {criterion_id: 0|1}} (the usual field names and aliases): a human's
    verdict per criterion of the rubric. A label naming a criterion the rubric lacks, or one it rates
    on a scale (`rated`: a MET/UNMET label does not fit a rating), is bad input."""
    return list(labelled_stream(path, criteria, limit=limit, seed=seed, rated=rated))


def labelled_stream(path: str | Path, criteria: Sequence[str], *, limit: int | None = None,
                    seed: int = 0, rated: Sequence[str] = ()) -> Stream[LabelledRow]:
    """`read_labelled` read anew on each pass; the row ids are checked unique first."""
    rows = FileRows(_existing(path, fmt="labels"), ("prompt", "response"))
    rows.validate()
    return Stream(lambda: _labelled_rows(rows, criteria, rated), limit, seed)


def _labelled_rows(rows: FileRows, criteria: Sequence[str], rated: Sequence[str]) -> Iterator[LabelledRow]:
    labelled = False
    for row in rows:
        labels = _labels(row.data.get("labels"), criteria, rated, rows.file, row.line)
        labelled = labelled or bool(labels)
        yield LabelledRow(row.id, row.line, row.fields["prompt"], row.fields["response"], row.fields.get("reference"), labels)
    if not labelled:
        raise InputError("no row has labels ({criterion_id: 0 or 1})", file=rows.file, field="labels")


def _labels(value: object, criteria: Sequence[str], rated: Sequence[str], file: str, line: int) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InputError("'labels' must be an object {criterion_id: 0 or 1}", file=file, line=line, field="labels")
    labels: dict[str, int] = {}
    for cid, verdict in value.items():
        if cid not in criteria:
            raise InputError(f"unknown criterion {cid!r}; the rubric has {', '.join(criteria)}", file=file, line=line,
                             field=f"labels.{cid}")
        if cid in rated:
            raise InputError(f"criterion {cid!r} is rated on a scale; labels are 0 or 1 for criteria judged MET/UNMET",
                             file=file, line=line, field=f"labels.{cid}")
        if verdict not in (0, 1) or isinstance(verdict, float):
            raise InputError(f"a label is 0 or 1 (or false/true), got {verdict!r}", file=file, line=line, field=f"labels.{cid}")
        labels[cid] = int(verdict)
    return labels
