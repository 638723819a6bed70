"""`rubric refine` changes a rubric only on evidence (scripted judge over real HTTP): a 7-vs-6 split
drops nothing, a reversed criterion on unlabelled data is flagged and never up-weighted, weights
follow how informative a criterion is, and the refined rubric is measured on held-out pairs only."""

from __future__ import annotations

from typing import Any

import numpy as np

from judgekit import Judge
from judgekit.authoring.evidence import misalignment_test
from judgekit.authoring.refine import RefineResult, RefineSettings, refine_rubric
from judgekit.authoring.weights import correlation_aware_weights
from judgekit.data.rows import DataRow
from judgekit.rubric.models import Rubric
from judgekit.testing import ScriptedJudgeServer
from tests.authoring.test_refine import by_flag

NO_DECOMPOSE = RefineSettings(decompose=False)


def refine(server: ScriptedJudgeServer, rubric: Rubric, rows: list[DataRow], settings: RefineSettings) -> RefineResult:
    with Judge("openai:scripted", base_url=server.base_url, api_key="sk-test") as judge:
        result: RefineResult = judge.run(refine_rubric(judge.context(), rubric, rows, settings))
        return result


TEXTS = ["Names the cause.", "Gives the date.", "Uses a table.", "Hedges every claim.", "Cites a source."]


def rubric_of(*ids: str) -> Rubric:
    return Rubric(name="e", criteria=[{"id": cid, "text": text} for cid, text in zip(ids, TEXTS)])


def pattern_rows(patterns: dict[str, str], prompts: int) -> list[DataRow]:
    """`prompts` prompts of eight unlabelled responses; response k carries flag cid when patterns[cid][k] == '1'."""
    rows = []
    for r in range(prompts):
        row = DataRow(line=r + 1, id=r, prompt=f"prompt {r}")
        for k in range(8):
            row.add(f"response {r}.{k} [{','.join(cid for cid, p in patterns.items() if p[k] == '1')}]")
        rows.append(row)
    return rows


def split_rows(reversed_in: int, right_in: int) -> list[DataRow]:
    """Labelled pairs where criterion 'x' is met by the rejected response in `reversed_in` pairs and by
    the chosen one in `right_in`; 'y' always by the chosen one."""
    rows = []
    for i in range(reversed_in + right_in):
        x_on_rejected = i < reversed_in
        row = DataRow(line=i + 1, id=i, prompt=f"question {i}")
        chosen = row.add(f"chosen {i} [y{'' if x_on_rejected else ',x'}]")
        rejected = row.add(f"rejected {i} [{'x' if x_on_rejected else ''}]")
        row.pairs.append((chosen, rejected))
        rows.append(row)
    return rows


def test_a_7_vs_6_split_of_13_decisive_pairs_drops_nothing(judge_server: ScriptedJudgeServer) -> None:
    judge_server.state.script.met = by_flag({"x": "x", "y": "y"})
    result = refine(judge_server, rubric_of("x", "y"), split_rows(7, 6), NO_DECOMPOSE)
    assert [c.cid for c in result.rubric.criteria] == ["x", "y"]
    assert "not enough evidence: prefers the rejected response in 7 of 13 decisive pairs" in result.evidence["x"]
    assert "binomial p = 0.5" in result.evidence["x"]
    # 13 labelled pairs are too few for a held-out share of 10: said, and refined on all of them.
    assert result.heldout["skipped"].startswith("too few labelled pairs for a held-out split")
    assert result.stats["x"]["pairs"] == 13

    # The same test drops a criterion the pairs do condemn: 12 reversed of 13.
    judge_server.state.script.met = by_flag({"x": "x", "y": "y"})
    strong = refine(judge_server, rubric_of("x", "y"), split_rows(12, 1), NO_DECOMPOSE)
    assert [c.cid for c in strong.rubric.criteria] == ["y"]


def test_the_misalignment_test_needs_enough_decisive_pairs() -> None:
    assert not misalignment_test(0, 5, min_decisive=8, alpha=0.05).passed  # 5 of 5, but only 5 pairs
    assert misalignment_test(0, 8, min_decisive=8, alpha=0.05).passed  # p = 1/256


def test_a_reversed_criterion_on_unlabelled_data_is_flagged_and_never_up_weighted(judge_server: ScriptedJudgeServer) -> None:
    patterns = {"a": "11110000", "b": "11101000", "c": "11100100", "r": "00001111"}  # r: met by the worse responses
    judge_server.state.script.met = by_flag({cid: cid for cid in patterns})
    rows = pattern_rows(patterns, prompts=5)
    verdicts = np.array([[float(p[k]) for p in patterns.values()] for _ in rows for k in range(8)])
    whitened = correlation_aware_weights(verdicts)
    assert whitened.argmax() == 3  # whitening alone gives r the largest weight (1.66)
    tested = refine(judge_server, rubric_of(*patterns), rows, NO_DECOMPOSE)
    weights = {c.cid: c.weight for c in tested.rubric.criteria}
    assert weights["r"] <= 1.0 < weights["a"]
    assert tested.evidence["r"].startswith("flagged: anti-correlated with the rest of the rubric")
    assert tested.heldout == {"skipped": "no labelled pairs: no held-out report"}


def test_weights_follow_how_informative_a_criterion_is(judge_server: ScriptedJudgeServer) -> None:
    patterns = {"rare": "10000000", "common": "11111110", "half": "11110000"}  # met by 1/8, 7/8, 4/8
    judge_server.state.script.met = by_flag({cid: cid for cid in patterns})
    result = refine(judge_server, rubric_of(*patterns), pattern_rows(patterns, prompts=8), NO_DECOMPOSE)
    w: dict[str, Any] = {c.cid: c.weight for c in result.rubric.criteria}
    assert w["half"] > w["rare"] == w["common"] == 1.0
    assert "not enough evidence for a weight change" in result.evidence["rare"]


def test_the_refined_rubric_is_measured_on_held_out_pairs_only(judge_server: ScriptedJudgeServer) -> None:
    judge_server.state.script.met = by_flag({"x": "x", "y": "y"})
    rows = split_rows(30, 10)  # x is reversed in 30 of 40 pairs
    result = refine(judge_server, rubric_of("x", "y"), rows, RefineSettings(decompose=False, seed=3))
    assert [c.cid for c in result.rubric.criteria] == ["y"]
    held = result.heldout
    assert held["pairs"] == 12 and result.stats["y"]["pairs"] == 28  # 0.3 of 40 held out; decisions see the other 28
    assert set(held) == {"pairs", "original", "refined", "refined_uniform_weights"}
    assert held["refined"]["accuracy"] == 1.0 and held["refined"]["ci"] == [1.0, 1.0]
    lo, hi = held["original"]["ci"]
    assert lo <= held["original"]["accuracy"] <= hi and held["original"]["n"] == 12
    assert result.rubric.provenance is not None and result.rubric.provenance["heldout"] == held
