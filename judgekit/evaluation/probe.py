"""`judgekit probe` (and `eval --probe`): score attack responses (judgekit.judging.attacks) for each
row and count how often the judge rewards them.

A false positive is an attack response whose reward is > 0; per criterion, a MET verdict on a
positively weighted criterion. Attacks are judged through the Judge's public row methods, the path
`score` and `compare` take (cache, profile, samples and panels alike). Rows are streamed with a
bounded window; per family only counts are kept (and, when several configurations are compared,
one byte per attack so that the comparison is paired). With rows that carry a response, the real
responses are scored too (the reward delta) and, with `pairwise`, each attack is compared with the
real response (both orders, as `compare` does): how often the attack wins.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from judgekit.data.datasets import EvalPair
from judgekit.data.rows import InputRow
from judgekit.errors import RunHalted
from judgekit.jsonvalue import JSONValue
from judgekit.judge import Judge
from judgekit.judging.attacks import Attack, Family, row_view
from judgekit.llm.engine import run_rows
from judgekit.rubric.models import Rubric

REAL = "real"  # the tally of the rows' own responses
MAX_REASONS = 20  # distinct unscored reasons kept per family
UNSCORED, NEGATIVE, POSITIVE = 2, 0, 1


@dataclass
class Tally:
    """One family's counts (or the real responses')."""

    attacks: int = 0
    positive: int = 0
    scored: int = 0
    reward_total: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    criteria: dict[str, list[int]] = field(default_factory=dict)  # cid -> [scored, met]
    variants: dict[str, list[Any]] = field(default_factory=dict)  # variant -> [scored, positive, first text]
    pairs: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # judged, attack wins, ties, unscored
    outcomes: bytearray | None = None  # one code per attack, in order (only to compare configurations)

    def unscored(self, why: str) -> None:
        if why in self.reasons or len(self.reasons) < MAX_REASONS:
            self.reasons[why] += 1
        else:
            self.reasons["(other reasons)"] += 1

    def add(self, variant: str, text: str | None, reward: float | None, scores: dict[str, int | float | None],
            unscored: dict[str, str], weights: dict[str, float]) -> None:
        self.attacks += 1
        slot = self.variants.setdefault(variant, [0, 0, text])
        if reward is None:
            self.unscored(next(iter(unscored.values()), "no criterion was scored"))
            self._outcome(UNSCORED)
            return
        hit = reward > 0
        self.scored, self.positive, self.reward_total = self.scored + 1, self.positive + hit, self.reward_total + reward
        slot[0], slot[1] = slot[0] + 1, slot[1] + hit
        self._outcome(POSITIVE if hit else NEGATIVE)
        for cid, value in scores.items():
            if value is not None and weights.get(cid, 0.0) > 0:
                counts = self.criteria.setdefault(cid, [0, 0])
                counts[0], counts[1] = counts[0] + 1, counts[1] + (value >= 0.5)

    def add_unbuilt(self, variant: str, why: str) -> None:
        self.attacks += 1
        self.variants.setdefault(variant, [0, 0, None])
        self.unscored(why)
        self._outcome(UNSCORED)

    def add_pair(self, winner: str | None) -> None:
        judged, wins, ties, unscored = self.pairs
        self.pairs = [judged + 1, wins + (winner == "A"), ties + (winner == "tie"), unscored] if winner is not None \
            else [judged, wins, ties, unscored + 1]

    def _outcome(self, code: int) -> None:
        if self.outcomes is not None:
            self.outcomes.append(code)

    @property
    def rate(self) -> float | None:
        return self.positive / self.scored if self.scored else None

    @property
    def mean_reward(self) -> float | None:
        return self.reward_total / self.scored if self.scored else None


@dataclass
class ProbeRun:
    """What a probe run counted, family by family; `stopped`: why it ended early (a spending limit)."""

    families: dict[str, Tally]
    real: Tally
    rows: int = 0
    stopped: str | None = None
    exit_code: int = 0


def _prompt_key(prompt: object) -> bytes:
    """A prompt remembered by an 8-byte hash, not by its text."""
    return hashlib.blake2b(json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                           digest_size=8).digest()


def distinct_prompts(prompts: Iterable[Any]) -> Iterator[Any]:
    """Each prompt the first time it comes."""
    seen: set[bytes] = set()
    for prompt in prompts:
        if (key := _prompt_key(prompt)) not in seen:
            seen.add(key)
            yield prompt


def pair_rows(pairs: Iterable[EvalPair]) -> Iterator[InputRow]:
    """`eval --probe`: one row per distinct prompt of labelled pairs, its real response the one the label prefers."""
    seen: set[bytes] = set()
    for index, pair in enumerate(pairs):
        if (key := _prompt_key(pair.prompt)) in seen:
            continue
        seen.add(key)
        fields = {"prompt": pair.prompt}
        if pair.label in ("A", "B"):
            fields["response"] = pair.response_a if pair.label == "A" else pair.response_b
        yield InputRow(index, index + 1, pair.id, {"prompt": pair.prompt}, fields)


@dataclass(frozen=True)
class _Job:
    family: str
    row: InputRow
    variant: str
    attack: Attack | None  # None: the real response (family REAL), or an attack that could not be built
    why: str | None = None


def _jobs(rows: Iterable[InputRow], rubric: Rubric, families: dict[str, Family], seed: int, run: ProbeRun) -> Iterator[_Job]:
    for row in rows:
        run.rows += 1
        if row.fields.get("response") is not None:
            yield _Job(REAL, row, REAL, None)
        view = row_view(row.fields, row.data, rubric, seed)
        for name, family in families.items():
            for built in family(view):
                yield _Job(name, row, built.variant, built) if isinstance(built, Attack) else _Job(name, row, built[0], None, built[1])


def _with(row: InputRow, attack: Attack, **responses: JSONValue) -> InputRow:
    fields = {"prompt": row.fields["prompt"], **responses}
    if attack.with_reference and row.fields.get("reference") is not None:
        fields["reference"] = row.fields["reference"]
    return replace(row, fields=fields)


async def probe_rows(judge: Judge, rubric: Rubric, rows: Iterable[InputRow], families: dict[str, Family], *, seed: int = 0,
                     pairwise: bool = False, keep_outcomes: bool = False, on_done: Callable[[], None] | None = None) -> ProbeRun:
    """Judge every attack of every row (and each row's real response), a bounded window at a time."""
    run = ProbeRun({name: Tally(outcomes=bytearray() if keep_outcomes else None) for name in families}, Tally())
    weights = {c.cid: c.weight for c in rubric.criteria}

    async def one(job: _Job) -> tuple[_Job, Any, Any]:
        if job.attack is None and job.family != REAL:
            return job, None, None
        real = job.row.fields.get("response")
        fields = {"response": real} if job.attack is None else {"response": job.attack.text}
        scored = await judge.ascore_row(_with(job.row, job.attack or Attack(REAL, ""), **fields), rubric)
        compared = None
        if pairwise and job.attack is not None and real is not None:
            compared = await judge.acompare_row(_with(job.row, job.attack, response_a=job.attack.text, response_b=real), rubric)
        return job, scored, compared

    def put(index: int, result: tuple[_Job, Any, Any]) -> None:
        job, scored, compared = result
        tally = run.real if job.family == REAL else run.families[job.family]
        if scored is None:
            tally.add_unbuilt(job.variant, job.why or "not built")
        else:
            tally.add(job.variant, job.attack.text if job.attack else None, scored.reward, scored.scores, scored.unscored, weights)
        if compared is not None:
            tally.add_pair(compared.winner)
        if on_done:
            on_done()

    try:
        await run_rows(_jobs(rows, rubric, families, seed, run), one, put, concurrency=judge.config.concurrency)
    except RunHalted as exc:  # a spending limit (or the judge is gone): what was judged is kept and reported
        run.stopped, run.exit_code = str(exc), exc.exit_code
    return run
