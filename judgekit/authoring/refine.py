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

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np

from judgekit.authoring.generate import GenerationFailed, ask_criteria, parse_criteria, similar_text
from judgekit.authoring.weights import correlation_aware_weights, correlation_matrix, effective_number, oriented
from judgekit.data.rows import DataRow, message_text
from judgekit.judging.context import JudgeContext
from judgekit.judging.judgment import score_item
from judgekit.judging.pointwise import PointwiseItem
from judgekit.judging.scoring import pointwise_reward
from judgekit.llm.fanout import gather_all
from judgekit.protocol.templates import FENCE, nonce, render
from judgekit.rubric.models import Criterion, Rubric

Weighting = Literal["correlation", "uniform", "keep"]
_SNIP = 1500


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

    def as_dict(self) -> dict[str, Any]:
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

    async def ensure(self, context: JudgeContext, criteria: Sequence[Criterion]) -> None:
        """Score the criteria not yet in the table on every response (one rubric per response, so the
        judge's criteria-per-call setting applies)."""
        missing = [c for c in criteria if c.cid not in self.scores]
        if not missing:
            return
        sub = Rubric(name=self.name, description=self.description, criteria=missing)

        async def one(cell: tuple[int, int]) -> dict[str, float | None]:
            row = self.rows[cell[0]]
            item = PointwiseItem(row.prompt, row.responses[cell[1]], row.reference, row.data)
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
        for ri, row in enumerate(self.rows):
            for ch, rj in row.pairs:
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

    def agreement(self, a: Criterion, b: Criterion) -> tuple[float | None, int]:
        """Share of responses (scored on both) where the two criteria agree, good side up."""
        sa, sb = self.scores[a.cid], self.scores[b.cid]
        both = [(x, y) for x, y in zip(sa, sb) if x is not None and y is not None]
        if not both:
            return None, 0
        flip_a, flip_b = a.weight < 0, b.weight < 0
        same = sum(1 for x, y in both if (1 - x if flip_a else x) == (1 - y if flip_b else y))
        return same / len(both), len(both)


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
    stats: dict[str, dict[str, Any]]
    uniform_weights: dict[str, float]
    pair_accuracy: dict[str, float | None]
    events: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    responses: int = 0
    pairs: int = 0
    uninformative: dict[str, str] = field(default_factory=dict)
    """Criteria of the refined rubric met by every response or by none, with the reason."""


def _snapshot(table: ScoreTable, criteria: Sequence[Criterion]) -> Snapshot:
    ids = [c.cid for c in criteria]
    s = oriented(table.matrix(ids), [c.weight for c in criteria])
    corr = correlation_matrix(s)
    return Snapshot(ids, [c.weight for c in criteria], np.round(corr, 4).tolist(), round(effective_number(corr), 4))


def _quality(st: CriterionStats, depth: int, position: int) -> tuple[float, float, int, int]:
    margin = st.pair_margin if st.pair_margin is not None else 0.0
    return (margin, st.variance or 0.0, -depth, -position)


def _pair_accuracy(table: ScoreTable, criteria: Sequence[Criterion]) -> float | None:
    """Share of labelled pairs where the rubric's reward ranks chosen above rejected (ties 1/2)."""
    pos = {cell: k for k, cell in enumerate(table.cells)}
    total = 0.0
    n = 0
    for ri, row in enumerate(table.rows):
        for ch, rj in row.pairs:
            ra = pointwise_reward(criteria, {c.cid: table.scores[c.cid][pos[(ri, ch)]] for c in criteria})
            rb = pointwise_reward(criteria, {c.cid: table.scores[c.cid][pos[(ri, rj)]] for c in criteria})
            if ra is None or rb is None:
                continue
            n += 1
            total += 1.0 if ra > rb else 0.5 if ra == rb else 0.0
    return round(total / n, 4) if n else None


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

    def note(self, msg: str) -> None:
        self.events.append(msg)
        self.say(msg)

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
    provenance: dict[str, Any] | None = None,
) -> RefineResult:
    run = _Run(context, settings, ScoreTable(rows, rubric.name, rubric.description), say, list(rubric.criteria))
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
    return _result(run, rubric, final, uniform, before, before_accuracy, provenance)


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
    if s.filter_misaligned and any(r.pairs for r in rows):
        current = _filter_misaligned(current, table, tree, run.note)
    if s.filter_redundant:
        current = _filter_redundant(current, table, tree, run.note, s)
    uniform = {c.cid: (-1.0 if c.weight < 0 else 1.0) for c in current}
    final = current if s.weighting == "keep" else _weigh(current, table, tree, run.note, s, uniform)
    for c in final:
        tree.nodes[c.cid]["weight"] = c.weight
        if tree.nodes[c.cid]["status"].startswith("dropped"):
            tree.nodes[c.cid]["status"] = "kept"
    return final, uniform


def _result(run: _Run, rubric: Rubric, final: list[Criterion], uniform: dict[str, float], before: Snapshot,
            before_accuracy: float | None, provenance: dict[str, Any] | None) -> RefineResult:
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
                        pair_accuracy, run.events, run.stop_reason, len(table.cells), pairs, uninformative)


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


def _filter_misaligned(current: list[Criterion], table: ScoreTable, tree: nx.DiGraph, note: Note) -> list[Criterion]:
    """Drop principles that prefer the rejected response of labelled pairs more often than the chosen
    one; a hard rule or check doing so is reported and kept."""
    keep: list[Criterion] = []
    for c in current:
        st = table.stats(c)
        if st.prefers_rejected <= st.prefers_chosen:
            keep.append(c)
        elif c.kind != "principle":
            why = f"prefers the rejected response in {st.prefers_rejected} pairs, the chosen in {st.prefers_chosen}"
            tree.nodes[c.cid]["status"] = _annotate(tree.nodes[c.cid]["status"], f"{why}; a {c.kind} is never dropped")
            note(f"keep '{c.cid}' ({c.kind}, never dropped) although it {why}")
            keep.append(c)
        else:
            tree.nodes[c.cid]["status"] = (f"dropped: misaligned (prefers rejected {st.prefers_rejected}x, "
                                           f"chosen {st.prefers_chosen}x)")
            note(f"drop '{c.cid}': misaligned ({st.prefers_rejected} pairs reversed, {st.prefers_chosen} right)")
    if not keep:  # never leave an empty rubric: keep the least misaligned criterion
        best = max(current, key=lambda c: _quality(table.stats(c), tree.nodes[c.cid]["depth"], current.index(c)))
        tree.nodes[best.cid]["status"] = "kept (least misaligned; the rubric cannot be empty)"
        keep = [best]
    return keep


def _filter_redundant(current: list[Criterion], table: ScoreTable, tree: nx.DiGraph, note: Note,
                      s: RefineSettings) -> list[Criterion]:
    """Among principles, keep one of near-duplicate texts or of verdicts that agree (criteria met by
    all or by none agree trivially: their agreement does not count)."""
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
            if agree is not None and support >= s.min_support and agree >= s.redundancy_threshold:
                reason = f"verdicts agree with '{k.cid}' on {agree:.0%} of {support} responses"
                break
        if reason is None:
            kept.append(c)
        else:
            tree.nodes[c.cid]["status"] = f"dropped: redundant ({reason})"
            note(f"drop '{c.cid}': redundant ({reason})")
    return [c for c in current if c.kind != "principle" or c in kept]


def _weigh(current: list[Criterion], table: ScoreTable, tree: nx.DiGraph, note: Note, s: RefineSettings,
           uniform: dict[str, float]) -> list[Criterion]:
    """The criteria with correlation-aware (or uniform) weights. A principle whose weight comes out 0
    is dropped; a hard rule or check keeps the uniform weight (+-1) instead."""
    ids = [c.cid for c in current]
    if s.weighting == "uniform":
        w = np.array([uniform[cid] for cid in ids])
    else:
        w = correlation_aware_weights(table.matrix(ids), [c.weight for c in current], lam=s.lam, power=s.power)
    final: list[Criterion] = []
    for c, wi in zip(current, w):
        wi = float(round(wi, 3))
        if wi == 0.0 and c.kind == "principle":
            tree.nodes[c.cid]["status"] = "dropped: zero weight after whitening"
            note(f"drop '{c.cid}': its whitened weight is 0")
            continue
        if wi == 0.0:
            wi = uniform[c.cid]
            note(f"keep '{c.cid}' ({c.kind}, never dropped) with weight {wi:g}: its whitened weight is 0")
        final.append(c.model_copy(update={"weight": wi}))
    return final or current[:1]


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
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
