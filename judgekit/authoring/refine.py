"""Rubric refinement (RRD): decompose, filter misaligned, filter redundant, correlation-aware weights.

    score every criterion on every candidate response (pointwise; cached verdicts)
    decompose: a criterion met by >= `easy_threshold` of the responses is split by the model into
               finer sub-criteria; the discriminative ones replace it; recursively, bounded by
               depth, number of criteria and rejected decompositions (early stop)
    misaligned: on labelled pairs, a criterion that prefers the rejected response more often than
               the chosen one is dropped
    redundant: criteria whose verdicts agree on >= `redundancy_threshold` of the responses, or whose
               texts are near-duplicates, keep one member (the more discriminative)
    weights:   w = Sigma_s^(-1/2) . 1 on the criterion score matrix (judgekit.authoring.weights)

Refinement keeps safety: decomposition and the filters change principles only. A hard rule or a
check is never decomposed, dropped or merged away (a safety rule is always MET on benign data,
which would make it look easy and redundant). A criterion met by every response, or by none, is
reported as "uninformative on this data" and kept, unless `drop_uninformative` asks to drop such
principles.

The parent -> child tree is a networkx DiGraph, written into the rubric's `provenance`. Every judge
call goes through the judge's cache (verdicts and generation answers), so running the same
refinement again costs no calls, and an interrupted run resumes where it stopped.
All coroutines here run on the judge's loop: `judge.run(refine_rubric(judge.context(), ...))`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np

from judgekit.authoring.evidence import bootstrap_interval, mean_ci, misalignment_test, redundancy_test, rest_correlation
from judgekit.authoring.generate import GenerationFailed, ask_criteria, parse_criteria, similar_text
from judgekit.authoring.weights import correlation_aware_weights, correlation_matrix, effective_number, oriented
from judgekit.data.rows import DataRow, message_text
from judgekit.data.transcript import as_text
from judgekit.jsonvalue import JSONValue
from judgekit.judging.context import JudgeContext
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.scoring import pointwise_reward
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import FENCE, nonce, render
from judgekit.rubric.models import Criterion, Rubric

Weighting = Literal["correlation", "uniform", "keep"]
Pair = tuple[int, int, int]  # (row index, chosen response, rejected response)
_SNIP = 1500
_TOL = 1e-6  # a correlation this close to 0 is 0 (floating-point noise)


@dataclass(frozen=True)
class RefineSettings:
    decompose: bool = True
    easy_threshold: float = 0.8
    """A criterion met by at least this share of the responses is too easy: decompose it."""
    max_depth: int = 2
    """How many times a criterion's descendants may be decomposed again."""
    max_criteria: int = 16
    """The rubric never grows past this many criteria through decomposition."""
    max_rejections: int = 3
    """Stop decomposing after this many proposals that gave no discriminative sub-criterion."""
    max_children: int = 4
    filter_misaligned: bool = True
    filter_redundant: bool = True
    redundancy_threshold: float = 0.95
    """Two criteria whose verdicts agree on at least this share of the responses are redundant."""
    text_similarity: float = 0.9
    """Two criteria whose normalised texts have a difflib ratio above this are duplicates."""
    min_support: int = 4
    """Responses both criteria must be scored on before their agreement counts."""
    weighting: Weighting = "correlation"
    lam: float = 0.1
    """Shrinkage of the correlation matrix toward its diagonal."""
    power: float = 0.5
    """w = Sigma_s^(-power) . 1; 0.5 is RRD's whitening."""
    examples: int = 3
    """Responses meeting a criterion shown to the model when it decomposes it."""
    drop_uninformative: bool = False
    """Drop principles met by every response or by none (hard rules and checks are always kept)."""
    min_decisive: int = 8
    """Decisive labelled pairs (one response MET, the other not) a misalignment drop needs at least."""
    alpha: float = 0.05
    """Level of every test (binomial, Clopper-Pearson bound, bootstrap interval)."""
    redundancy_bound: float = 0.75
    """The Clopper-Pearson lower bound of two criteria's agreement a redundancy drop needs."""
    min_responses: int = 8
    """Responses a weight change needs at least (and a bootstrap interval that excludes 1)."""
    bootstrap: int = 300
    weight_evidence: bool = True
    """False: take the formula's weights without the bootstrap test (to study the formula)."""
    informative: bool = True
    """Weights also follow each criterion's information (binary entropy of its met rate)."""
    holdout: float = 0.3
    """Share of the labelled pairs held out (seeded) to measure the refined rubric on."""
    min_heldout: int = 10
    """Fewer held-out pairs than this: no held-out report; refine on all pairs and say so."""
    seed: int = 0
    prompts_at_once: int = 4
    """Per-prompt rubrics refined at the same time."""


@dataclass
class CriterionStats:
    met_rate: float | None
    scored: int
    variance: float | None
    prefers_chosen: int = 0
    prefers_rejected: int = 0
    ties: int = 0

    @property
    def pairs(self) -> int:
        return self.prefers_chosen + self.prefers_rejected + self.ties

    @property
    def uninformative(self) -> str | None:
        """Why the criterion tells no response from another on this data (met by all or by none)."""
        if self.met_rate in (0.0, 1.0):
            return f"uninformative on this data: met by {'all' if self.met_rate else 'none'} of {self.scored} responses"
        return None

    @property
    def pair_margin(self) -> float | None:
        """(prefers chosen - prefers rejected) / pairs: +1 always right, -1 always reversed."""
        return (self.prefers_chosen - self.prefers_rejected) / self.pairs if self.pairs else None

    def as_dict(self) -> dict[str, JSONValue]:
        return {**asdict(self), "pairs": self.pairs, "pair_margin": self.pair_margin}


# ---- the score table ---------------------------------------------------------------------------


class ScoreTable:
    """Verdicts of every criterion on every candidate response (row, response index), in order."""

    def __init__(self, rows: Sequence[DataRow], name: str, description: str) -> None:
        self.rows = list(rows)
        self.name = name
        self.description = description
        self.cells: list[tuple[int, int]] = [(ri, j) for ri, r in enumerate(self.rows) for j in range(len(r.responses))]
        self.scores: dict[str, list[float | None]] = {}
        self.heldout: frozenset[Pair] = frozenset()
        """Labelled pairs kept out of every decision; refine is measured on them."""

    def labelled(self, *, heldout: bool = False) -> list[Pair]:
        """(row index, chosen, rejected) of the labelled pairs used for fitting (or the held-out ones)."""
        every = [(ri, ch, rj) for ri, row in enumerate(self.rows) for ch, rj in row.pairs]
        return [p for p in every if (p in self.heldout) == heldout]

    async def ensure(self, context: JudgeContext, criteria: Sequence[Criterion]) -> None:
        """Score the criteria not yet in the table on every response (one rubric per response, so the
        judge's criteria-per-call setting applies)."""
        missing = [c for c in criteria if c.cid not in self.scores]
        if not missing:
            return
        sub = Rubric(name=self.name, description=self.description, criteria=missing)

        async def one(cell: tuple[int, int]) -> dict[str, float | None]:
            row = self.rows[cell[0]]
            item = PointwiseItem(as_text(row.prompt), row.responses[cell[1]], row.reference, row.data)
            return (await score_item(context, sub, item)).scores

        results = await gather_all(*(one(cell) for cell in self.cells))
        for c in missing:
            self.scores[c.cid] = [res.get(c.cid) for res in results]

    def matrix(self, ids: Sequence[str]) -> np.ndarray:
        """responses x criteria, NaN where unscored."""
        cols = [[np.nan if v is None else float(v) for v in self.scores[cid]] for cid in ids]
        return np.array(cols, dtype=float).T if cols else np.zeros((len(self.cells), 0))

    def stats(self, c: Criterion) -> CriterionStats:
        col = self.scores[c.cid]
        vals = [v for v in col if v is not None]
        rate = sum(vals) / len(vals) if vals else None
        st = CriterionStats(rate, len(vals), None if rate is None else rate * (1 - rate))
        pos = {cell: k for k, cell in enumerate(self.cells)}
        for ri, ch, rj in self.labelled():
            a, b = col[pos[(ri, ch)]], col[pos[(ri, rj)]]
            if a is None or b is None:
                continue
            good_a, good_b = (a, b) if c.weight >= 0 else (1 - a, 1 - b)
            if good_a > good_b:
                st.prefers_chosen += 1
            elif good_b > good_a:
                st.prefers_rejected += 1
            else:
                st.ties += 1
        return st

    def agreement(self, a: Criterion, b: Criterion) -> tuple[int, int]:
        """Responses (scored on both) where the two criteria agree, good side up, and how many were scored on both."""
        sa, sb = self.scores[a.cid], self.scores[b.cid]
        both = [(x, y) for x, y in zip(sa, sb) if x is not None and y is not None]
        flip_a, flip_b = a.weight < 0, b.weight < 0
        same = sum(1 for x, y in both if (1 - x if flip_a else x) == (1 - y if flip_b else y))
        return same, len(both)


# ---- the loop ----------------------------------------------------------------------------------


@dataclass
class Snapshot:
    ids: list[str]
    weights: list[float]
    corr: list[list[float]]
    effective_criteria: float


@dataclass
class RefineResult:
    rubric: Rubric
    tree: nx.DiGraph
    before: Snapshot
    after: Snapshot
    stats: dict[str, dict[str, JSONValue]]  # per criterion seen: its CriterionStats, rounded
    uniform_weights: dict[str, float]
    pair_accuracy: dict[str, float | None]
    events: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    responses: int = 0
    pairs: int = 0
    uninformative: dict[str, str] = field(default_factory=dict)
    """Criteria of the refined rubric met by every response or by none, with the reason."""
    evidence: dict[str, str] = field(default_factory=dict)
    """Criteria left as they were because a change failed its test ("not enough evidence: ..."),
    and criteria flagged on unlabelled data (anti-correlated with the rest of the rubric)."""
    heldout: dict[str, JSONValue] = field(default_factory=dict)
    """Accuracy with CIs on the held-out pairs only, or {"skipped": why}."""
    heldout_values: dict[str, list[float]] = field(default_factory=dict)
    """Per held-out pair (1 right, 1/2 tie, 0 wrong), for pooling several per-prompt refinements."""


def _snapshot(table: ScoreTable, criteria: Sequence[Criterion]) -> Snapshot:
    ids = [c.cid for c in criteria]
    s = oriented(table.matrix(ids), [c.weight for c in criteria])
    corr = correlation_matrix(s)
    return Snapshot(ids, [c.weight for c in criteria], np.round(corr, 4).tolist(), round(effective_number(corr), 4))


def _quality(st: CriterionStats, depth: int, position: int) -> tuple[float, float, int, int]:
    margin = st.pair_margin if st.pair_margin is not None else 0.0
    return (margin, st.variance or 0.0, -depth, -position)


def pair_values(table: ScoreTable, criteria: Sequence[Criterion], pairs: Sequence[Pair]) -> list[float]:
    """Per labelled pair: 1 if the rubric's reward ranks chosen above rejected, 1/2 for a tie, 0 if
    below; pairs with an unscorable reward are left out."""
    pos = {cell: k for k, cell in enumerate(table.cells)}
    out: list[float] = []
    for ri, ch, rj in pairs:
        ra = pointwise_reward(criteria, {c.cid: table.scores[c.cid][pos[(ri, ch)]] for c in criteria})
        rb = pointwise_reward(criteria, {c.cid: table.scores[c.cid][pos[(ri, rj)]] for c in criteria})
        if ra is not None and rb is not None:
            out.append(1.0 if ra > rb else 0.5 if ra == rb else 0.0)
    return out


def _pair_accuracy(table: ScoreTable, criteria: Sequence[Criterion]) -> float | None:
    """Share of the fitted labelled pairs where the rubric ranks chosen above rejected (ties 1/2)."""
    values = pair_values(table, criteria, table.labelled())
    return round(sum(values) / len(values), 4) if values else None


def labelled_pairs(rows: Sequence[DataRow]) -> list[Pair]:
    return [(ri, ch, rj) for ri, row in enumerate(rows) for ch, rj in row.pairs]


def split_pairs(rows: Sequence[DataRow], s: RefineSettings) -> tuple[frozenset[Pair], str | None]:
    """The seeded held-out share of the labelled pairs, or no pair and the reason there is no split."""
    every = labelled_pairs(rows)
    if not every:
        return frozenset(), "no labelled pairs: no held-out report"
    if s.holdout <= 0:
        return frozenset(), "the held-out split is off (--holdout 0): no held-out report"
    n_hold = round(s.holdout * len(every))
    if n_hold < s.min_heldout or n_hold >= len(every):
        return frozenset(), (f"too few labelled pairs for a held-out split: {s.holdout:g} of {len(every)} is {n_hold} "
                             f"held-out pairs (needs at least {s.min_heldout}); refined on all of them, no held-out report")
    picked = np.random.default_rng(s.seed).permutation(len(every))[:n_hold]
    return frozenset(every[i] for i in picked), None


def heldout_report(values: dict[str, list[float]], s: RefineSettings) -> dict[str, JSONValue]:
    """Accuracy and its seeded bootstrap CI per rubric variant, on held-out pairs only."""
    out: dict[str, JSONValue] = {"pairs": len(next(iter(values.values()), []))}
    for name, vals in values.items():
        acc, ci = mean_ci(vals, alpha=s.alpha, seed=s.seed)
        out[name] = {"accuracy": acc, "ci": ci, "n": len(vals)}
    return out


def decompose_messages(
    criterion: Criterion, table: ScoreTable, siblings: Sequence[Criterion], *, max_children: int, examples: int,
) -> list[dict[str, str]]:
    col = table.scores[criterion.cid]
    shown: list[dict[str, str]] = []
    used_rows: set[int] = set()
    for k, (ri, j) in enumerate(table.cells):
        good = col[k] == 1
        if good and ri not in used_rows and len(shown) < examples:
            row = table.rows[ri]
            shown.append({"prompt": message_text(row.prompt)[:_SNIP], "response": row.responses[j][:_SNIP]})
            used_rows.add(ri)
    st = table.stats(criterion)
    tag = nonce(*(e["prompt"] + e["response"] for e in shown))
    ctx = {
        "fence": FENCE, "nonce": tag, "examples": shown, "max_children": max_children, "kind": criterion.kind,
        "criterion": {"id": criterion.cid, "kind": criterion.kind, "text": criterion.display_text},
        "met_percent": round(100 * (st.met_rate or 0)), "n_responses": st.scored,
        "siblings": [c.display_text for c in siblings if c.cid != criterion.cid],
    }
    return [
        {"role": "system", "content": render("rubric_decompose_system.j2", **ctx)},
        {"role": "user", "content": render("rubric_decompose_user.j2", **ctx)},
    ]


@dataclass
class _Run:
    """What one refinement carries from step to step: the rubric as it stands, the criterion tree,
    every criterion ever scored, the ids taken and the log."""

    context: JudgeContext
    s: RefineSettings
    table: ScoreTable
    say: Callable[[str], None]
    current: list[Criterion]
    tree: nx.DiGraph = field(default_factory=nx.DiGraph)
    seen: dict[str, Criterion] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)

    def note(self, msg: str) -> None:
        self.events.append(msg)
        self.say(msg)

    def record(self, cid: str, why: str) -> None:
        """A remark on the evidence about one criterion (several join with '; ')."""
        self.evidence[cid] = f"{self.evidence[cid]}; {why}" if cid in self.evidence else why

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.note(f"decompose stopped: {reason}")


async def refine_rubric(
    context: JudgeContext,
    rubric: Rubric,
    rows: Sequence[DataRow],
    settings: RefineSettings = RefineSettings(),
    *,
    say: Callable[[str], None] = lambda msg: None,
    provenance: dict[str, object] | None = None,
    heldout: frozenset[Pair] | None = None,
) -> RefineResult:
    """Refine one rubric on `rows`. `heldout`: the labelled pairs kept out of every decision (None:
    split here as the settings say; an empty set: none)."""
    run = _Run(context, settings, ScoreTable(rows, rubric.name, rubric.description), say, list(rubric.criteria))
    skipped = None
    if heldout is None:
        heldout, skipped = split_pairs(rows, settings)
        if skipped:
            run.note(skipped)
    run.table.heldout = heldout
    for c in rubric.criteria:
        run.tree.add_node(c.cid, text=c.display_text, kind=c.kind, weight=c.weight, depth=0, status="kept")
    run.seen = {c.cid: c for c in run.current}
    run.taken = set(rubric.ids)
    run.note(f"scoring {len(run.current)} criteria on {len(run.table.cells)} responses")
    await run.table.ensure(context, run.current)
    before = _snapshot(run.table, run.current)
    before_accuracy = _pair_accuracy(run.table, run.current)
    if settings.decompose:
        await _decompose(run)
    final, uniform = _filter_and_weigh(run, rows)
    result = _result(run, rubric, final, uniform, before, before_accuracy, provenance)
    if heldout:
        result.heldout_values = {
            "original": pair_values(run.table, rubric.criteria, run.table.labelled(heldout=True)),
            "refined": pair_values(run.table, final, run.table.labelled(heldout=True)),
            "refined_uniform_weights": pair_values(
                run.table, [c.model_copy(update={"weight": uniform[c.cid]}) for c in final], run.table.labelled(heldout=True)),
        }
        result.heldout = heldout_report(result.heldout_values, settings)
    else:
        result.heldout = {"skipped": skipped or "no held-out pairs given"}
    if result.rubric.provenance is not None:
        result.rubric.provenance["heldout"] = result.heldout
    return result


# ---- decompose (recursive, bounded) ----------------------------------------------------------


async def _decompose(run: _Run) -> None:
    """Split too-easy principles until none is left, the rubric is full, or too many proposals failed."""
    s = run.s
    rejections = 0
    tried: set[str] = set()
    while (parent := _next_easy(run, tried)) is not None:
        if len(run.current) + 1 > s.max_criteria:
            run.stop(f"max_criteria ({s.max_criteria}) reached")
            return
        tried.add(parent.cid)
        if await _decompose_one(run, parent):
            continue
        rejections += 1
        run.note(f"  rejected ({rejections}/{s.max_rejections}): no discriminative sub-criterion")
        if rejections >= s.max_rejections:
            run.stop(f"early stop after {rejections} rejected decompositions")
            return


def _next_easy(run: _Run, tried: set[str]) -> Criterion | None:
    """The first positive principle, not yet tried and not too deep, met by at least `easy_threshold`."""
    for c in run.current:
        if (c.kind == "principle" and c.weight > 0 and c.cid not in tried
                and run.tree.nodes[c.cid]["depth"] < run.s.max_depth
                and (run.table.stats(c).met_rate or 0.0) >= run.s.easy_threshold and run.table.stats(c).scored > 0):
            return c
    return None


async def _decompose_one(run: _Run, parent: Criterion) -> bool:
    """Ask for sub-criteria of `parent` and put the discriminative ones in its place; False if none was."""
    depth = run.tree.nodes[parent.cid]["depth"]
    rate = run.table.stats(parent).met_rate or 0.0
    run.note(f"decompose '{parent.cid}' (met by {rate:.0%} of responses, depth {depth})")
    children = await _propose_children(run, parent)
    run.seen.update({ch.cid: ch for ch in children})
    await run.table.ensure(run.context, children)
    useful = _useful_children(run, parent, children, depth, rate)
    room = run.s.max_criteria - (len(run.current) - 1)
    if not useful or room <= 0:
        run.tree.nodes[parent.cid]["status"] = "kept (decomposition rejected)"
        return False
    if len(useful) > room:
        useful.sort(key=lambda c: -(run.table.stats(c).variance or 0.0))
        for extra in useful[room:]:
            run.tree.nodes[extra.cid]["status"] = "dropped: max_criteria"
        useful = useful[:room]
    at = run.current.index(parent)
    run.current[at : at + 1] = useful
    run.tree.nodes[parent.cid]["status"] = "decomposed"
    run.note(f"  -> {', '.join(c.cid for c in useful)}")
    return True


async def _propose_children(run: _Run, parent: Criterion) -> list[Criterion]:
    """The model's sub-criteria of `parent`, of its kind, sharing its weight."""
    s = run.s
    messages = decompose_messages(parent, run.table, run.current, max_children=s.max_children, examples=s.examples)
    try:
        obj = await ask_criteria(run.context, messages, max_items=s.max_children)
        children = parse_criteria(obj, taken=run.taken, id_prefix=parent.cid, default_kind=parent.kind,
                                  existing_texts=[c.display_text for c in run.current],
                                  near_duplicate=s.text_similarity)
    except GenerationFailed as exc:
        children = []
        run.note(f"  no proposal: {exc}")
    children = children[: s.max_children]
    total_w = sum(abs(ch.weight) for ch in children) or 1.0
    return [ch.model_copy(update={"kind": parent.kind,
                                  "weight": round(parent.weight * abs(ch.weight) / total_w, 4) or parent.weight})
            for ch in children]


def _useful_children(
    run: _Run, parent: Criterion, children: list[Criterion], depth: int, rate: float,
) -> list[Criterion]:
    """The children strictly more discriminative than their parent (and met by someone), each entered
    in the tree; one still above the threshold is decomposed again next round while the depth allows."""
    useful: list[Criterion] = []
    for ch in children:
        r = run.table.stats(ch).met_rate
        ok = r is not None and 0.0 < r < rate
        status = "kept" if ok else ("not discriminative: met by no response" if not r else
                                    "not discriminative: as easy as its parent")
        run.tree.add_node(ch.cid, text=ch.display_text, kind=ch.kind, weight=ch.weight, depth=depth + 1, status=status)
        run.tree.add_edge(parent.cid, ch.cid)
        if ok:
            useful.append(ch)
    return useful


# ---- filters, weights and the result -----------------------------------------------------------


def _filter_and_weigh(run: _Run, rows: Sequence[DataRow]) -> tuple[list[Criterion], dict[str, float]]:
    """The final criteria with their weights, and the uniform (+-1) weights they are compared with."""
    s, table, tree = run.s, run.table, run.tree
    current = _mark_uninformative(run.current, table, tree, run.note, s.drop_uninformative)
    if s.filter_misaligned and table.labelled():
        current = _filter_misaligned(run, current)
    if s.filter_redundant:
        current = _filter_redundant(run, current)
    uniform = {c.cid: (-1.0 if c.weight < 0 else 1.0) for c in current}
    final = current if s.weighting == "keep" else _weigh(run, current, uniform)
    for c in final:
        tree.nodes[c.cid]["weight"] = c.weight
        if tree.nodes[c.cid]["status"].startswith("dropped"):
            tree.nodes[c.cid]["status"] = "kept"
    return final, uniform


def _result(run: _Run, rubric: Rubric, final: list[Criterion], uniform: dict[str, float], before: Snapshot,
            before_accuracy: float | None, provenance: Mapping[str, object] | None) -> RefineResult:
    """The refined rubric (its provenance: the tree, the settings, the accuracies) and the report's numbers."""
    table = run.table
    stats = {cid: _rounded(table.stats(c).as_dict()) for cid, c in run.seen.items() if cid in table.scores}
    pair_accuracy = {
        "before": before_accuracy,
        "after": _pair_accuracy(table, final),
        "after_uniform_weights": _pair_accuracy(table, [c.model_copy(update={"weight": uniform[c.cid]}) for c in final]),
    }
    prov = dict(provenance or {})
    prov.update({
        "refined_from": rubric.name,
        "settings": asdict(run.s),
        "tree": tree_dict(run.tree),
        "stop_reason": run.stop_reason,
        "pair_accuracy": pair_accuracy,
    })
    out = Rubric(
        name=rubric.name, description=rubric.description, version=_next_version(rubric.version),
        criteria=final, provenance=prov,
    )
    pairs = sum(len(r.pairs) for r in table.rows)
    uninformative = {c.cid: why for c in final if (why := table.stats(c).uninformative)}
    return RefineResult(out, run.tree, before, _snapshot(table, final), stats, {c.cid: uniform[c.cid] for c in final},
                        pair_accuracy, run.events, run.stop_reason, len(table.cells), pairs, uninformative,
                        {cid: why for cid, why in run.evidence.items() if cid in {c.cid for c in final}})


Note = Callable[[str], None]


def _annotate(status: str, why: str) -> str:
    """A node's status with one more remark: 'kept' -> 'kept (why)', 'kept (a)' -> 'kept (a; why)'."""
    return f"{status[:-1]}; {why})" if status.endswith(")") else f"{status} ({why})"


def _mark_uninformative(current: list[Criterion], table: ScoreTable, tree: nx.DiGraph, note: Note,
                        drop: bool) -> list[Criterion]:
    """Report criteria met by every response or by none; drop such principles only when asked."""
    kept: list[Criterion] = []
    for c in current:
        why = table.stats(c).uninformative
        if why is None:
            kept.append(c)
        elif drop and c.kind == "principle":
            tree.nodes[c.cid]["status"] = f"dropped: {why}"
            note(f"drop '{c.cid}': {why}")
        else:
            tree.nodes[c.cid]["status"] = _annotate(tree.nodes[c.cid]["status"], why)
            note(f"keep '{c.cid}' ({c.kind}): {why}")
            kept.append(c)
    if not kept:  # never leave an empty rubric
        tree.nodes[current[0].cid]["status"] = "kept (every criterion is uninformative; the rubric cannot be empty)"
        kept = current[:1]
    return kept


def _filter_misaligned(run: _Run, current: list[Criterion]) -> list[Criterion]:
    """Drop the principles the fitted labelled pairs show to prefer rejected responses beyond chance
    (evidence.misalignment_test); a hard rule or check doing so is reported and kept."""
    s, table, tree = run.s, run.table, run.tree
    keep: list[Criterion] = []
    for c in current:
        st = table.stats(c)
        if st.prefers_rejected <= st.prefers_chosen:
            keep.append(c)
            continue
        test = misalignment_test(st.prefers_chosen, st.prefers_rejected, min_decisive=s.min_decisive, alpha=s.alpha)
        if not test.passed:
            run.record(c.cid, test.reason)
            tree.nodes[c.cid]["status"] = _annotate(tree.nodes[c.cid]["status"], test.reason)
            run.note(f"keep '{c.cid}': {test.reason}")
            keep.append(c)
        elif c.kind != "principle":
            tree.nodes[c.cid]["status"] = _annotate(tree.nodes[c.cid]["status"], f"{test.reason}; a {c.kind} is never dropped")
            run.note(f"keep '{c.cid}' ({c.kind}, never dropped) although {test.reason}")
            keep.append(c)
        else:
            tree.nodes[c.cid]["status"] = f"dropped: {test.reason}"
            run.note(f"drop '{c.cid}': {test.reason}")
    if not keep:  # never leave an empty rubric: keep the least misaligned criterion
        best = max(current, key=lambda c: _quality(table.stats(c), tree.nodes[c.cid]["depth"], current.index(c)))
        tree.nodes[best.cid]["status"] = "kept (least misaligned; the rubric cannot be empty)"
        keep = [best]
    return keep


def _filter_redundant(run: _Run, current: list[Criterion]) -> list[Criterion]:
    """Among principles, keep one of near-duplicate texts or of verdicts whose agreement passes
    evidence.redundancy_test (criteria met by all or by none agree trivially: that does not count)."""
    s, table, tree = run.s, run.table, run.tree
    principles = [c for c in current if c.kind == "principle"]
    order = sorted(principles, key=lambda c: _quality(table.stats(c), tree.nodes[c.cid]["depth"], current.index(c)),
                   reverse=True)
    kept: list[Criterion] = []
    for c in order:
        reason = None
        for k in kept:
            if c.text and k.text and similar_text(c.text, k.text) > s.text_similarity:
                reason = f"near-duplicate text of '{k.cid}'"
                break
            if table.stats(c).uninformative or table.stats(k).uninformative:
                continue
            agree, support = table.agreement(c, k)
            if support == 0 or agree / support < s.redundancy_threshold:
                continue
            test = redundancy_test(agree, support, min_support=s.min_support, bound=s.redundancy_bound, alpha=s.alpha)
            said = f"verdicts agree with '{k.cid}' on {agree} of {support} responses"
            if test.passed:
                reason = f"{said}; {test.reason}"
                break
            run.record(c.cid, f"{said}, {test.reason}")
        if reason is None:
            kept.append(c)
        else:
            tree.nodes[c.cid]["status"] = f"dropped: redundant ({reason})"
            run.note(f"drop '{c.cid}': redundant ({reason})")
    return [c for c in current if c.kind != "principle" or c in kept]


def _weigh(run: _Run, current: list[Criterion], uniform: dict[str, float]) -> list[Criterion]:
    """The criteria with their new weights. Criteria met by all or by none keep the uniform weight
    (nothing to weigh them by); a weight differs from the rubric's own (scaled so the weights sum to
    the number of criteria) only when the bootstrap test says so; a criterion anti-correlated with
    the rest is never weighted above its own. A principle whose
    weight comes out 0 is dropped; a hard rule or check keeps the uniform weight (+-1) instead."""
    s, table, tree = run.s, run.table, run.tree
    live = [c for c in current if s.weighting == "correlation" and not table.stats(c).uninformative]
    weights = {c.cid: uniform[c.cid] for c in current}
    if len(live) > 1:
        weights.update(_tested_weights(run, live))
    final: list[Criterion] = []
    for c in current:
        wi = float(round(weights[c.cid], 3))
        if wi == 0.0 and c.kind == "principle":
            tree.nodes[c.cid]["status"] = "dropped: zero weight after whitening"
            run.note(f"drop '{c.cid}': its whitened weight is 0")
            continue
        if wi == 0.0:
            wi = uniform[c.cid]
            run.note(f"keep '{c.cid}' ({c.kind}, never dropped) with weight {wi:g}: its whitened weight is 0")
        final.append(c.model_copy(update={"weight": wi}))
    return final or current[:1]


def _tested_weights(run: _Run, live: list[Criterion]) -> dict[str, float]:
    """Correlation-aware (and information-aware) weights of `live`, each kept only if it passes its test."""
    s, table = run.s, run.table
    ids, signs = [c.cid for c in live], [c.weight for c in live]
    matrix = table.matrix(ids)

    def weigh(m: np.ndarray) -> np.ndarray:
        return np.abs(correlation_aware_weights(m, signs, lam=s.lam, power=s.power, informative=s.informative))

    point = weigh(matrix)
    given = np.array([abs(c.weight) for c in live])
    given = given * len(live) / given.sum()  # the rubric's own weights on the formula's scale (sum = criteria)
    rest = rest_correlation(matrix, signs)
    n = len(matrix)
    interval = (bootstrap_interval(matrix, weigh, resamples=s.bootstrap, alpha=s.alpha, seed=s.seed)
                if s.weight_evidence and n >= s.min_responses else None)
    out: dict[str, float] = {}
    for i, c in enumerate(live):
        sign = -1.0 if c.weight < 0 else 1.0
        magnitude, why = float(point[i]), ""
        if s.weight_evidence and n < s.min_responses:
            magnitude, why = given[i], f"not enough evidence for a weight change: {n} responses (needs {s.min_responses})"
        elif interval is not None and interval[i, 0] <= given[i] <= interval[i, 1]:
            magnitude, why = given[i], (f"not enough evidence for a weight change: the {1 - s.alpha:.0%} bootstrap interval "
                                        f"[{interval[i, 0]:.2f}, {interval[i, 1]:.2f}] holds its weight {given[i]:.2f}")
        if rest[i] < -_TOL:
            why = (f"flagged: anti-correlated with the rest of the rubric (r = {rest[i]:.2f}) on unlabelled "
                   f"verdicts; never weighted above its weight {given[i]:.2f}" + (f"; {why}" if why else ""))
            magnitude = min(magnitude, given[i])
        if why:
            run.record(c.cid, why)
            run.note(f"weight of '{c.cid}' stays {sign * magnitude:.3g} (formula: {sign * point[i]:.3f}): {why}")
        out[c.cid] = sign * magnitude
    return out


def _rounded(d: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def _next_version(version: int | str) -> int | str:
    if isinstance(version, int):
        return version + 1
    return f"{version}+refined"


def tree_dict(tree: nx.DiGraph) -> dict[str, Any]:
    """The criterion tree as plain data: nodes (with parent, depth, status) and parent -> child edges."""
    nodes = []
    for cid, attrs in tree.nodes(data=True):
        parents = list(tree.predecessors(cid))
        nodes.append({"id": cid, "parent": parents[0] if parents else None, "depth": attrs["depth"],
                      "status": attrs["status"], "weight": attrs["weight"], "text": attrs["text"]})
    return {"nodes": nodes, "edges": [[a, b] for a, b in tree.edges()]}
