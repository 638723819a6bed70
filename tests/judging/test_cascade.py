"""The confidence cascade (`cascade:` in a panel file or a JudgeSpec) against two scripted HTTP judges:
a cheap one that is unsure (a low log-probability) on known criteria, and a strong one. Only the
unsure criteria reach the strong judge; each verdict names its judge; the levels are counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import judgekit
from judgekit.errors import InputError
from judgekit.judging.cascade import confidence
from judgekit.judging.verdicts import CriterionVerdict
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from judgekit.testing.server import requested_ids
from tests.helpers import KIND_RUBRIC as RUBRIC
from tests.helpers import KIND_RUBRIC_TEXT as RUBRIC_TEXT
from tests.helpers import SHARED_DATA, prefer_yes, read_jsonl, run_cli, write_jsonl
from tests.helpers import YES_NO_ROWS as ROWS

PAIRS = [{"id": i, "prompt": "q", "response_a": "yes", "response_b": "no"} for i in range(2)]


def _cheap() -> ServerState:
    """MET to everything (wrong on "no"), sure of criterion a (0.95), unsure of b (0.55)."""
    return ServerState(script=Script(met=lambda cid, r: True, prefer=prefer_yes),
                       verdict_probability=lambda cid, verdict: 0.95 if cid == "a" else 0.55)


def _strong() -> ServerState:
    return ServerState(script=Script(met=lambda cid, r: "yes" in r, prefer=prefer_yes))


@pytest.fixture
def two() -> Iterator[tuple[ScriptedJudgeServer, ScriptedJudgeServer]]:
    with ScriptedJudgeServer(_cheap()) as cheap, ScriptedJudgeServer(_strong()) as strong:
        yield cheap, strong


def _spec(cheap: ScriptedJudgeServer, strong: ScriptedJudgeServer, **settings: object) -> judgekit.JudgeSpec:
    return judgekit.JudgeSpec(cascade=[{"judge": "openai:cheap", "base_url": cheap.base_url},
                                       {"judge": "openai:strong", "base_url": strong.base_url}],
                              threshold=0.8, cache=False, **settings)


def _asked(server: ScriptedJudgeServer) -> list[str]:
    return sorted(cid for body in server.state.requests for cid in requested_ids(body))


def test_only_the_unsure_criteria_go_to_the_strong_judge(two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, strong = two
    with _spec(cheap, strong).build() as judge:
        results = judge.score(ROWS, RUBRIC)
        levels = judge.cascade.as_dict()["levels"] if judge.cascade else []
    assert _asked(cheap) == ["a"] * 4 + ["b"] * 4
    assert _asked(strong) == ["b"] * 4  # a (0.95) stood; b (0.55 < 0.8) went on
    assert all(r.decided_by == {"a": "openai:cheap", "b": "openai:strong"} for r in results)
    assert [r.scores for r in results] == [{"a": 1, "b": 1 if row["response"] == "yes" else 0} for row in ROWS]
    assert [(lv["judge"], lv["decided"], lv["share"], lv["calls"]) for lv in levels] == [
        ("openai:cheap", 4, 0.5, 8), ("openai:strong", 4, 0.5, 4)]
    assert levels[0]["escalated"] == 4 and levels[0]["failed"] == 0


def test_a_failing_first_judge_escalates_and_a_failing_last_leaves_it_unscored() -> None:
    failing = ServerState(faults=Faults(server_error=1.0))
    with ScriptedJudgeServer(failing) as cheap, ScriptedJudgeServer(_strong()) as strong:
        with _spec(cheap, strong, max_attempts=1).build() as judge:
            results = judge.score(ROWS, RUBRIC)
            levels = judge.cascade.as_dict()["levels"] if judge.cascade else []
        assert all(r.decided_by == {"a": "openai:strong", "b": "openai:strong"} for r in results)
        assert [r.reward is not None for r in results] == [True] * 4
        assert [(lv["decided"], lv["failed"]) for lv in levels] == [(0, 8), (8, 0)]
    with ScriptedJudgeServer(_cheap()) as cheap, ScriptedJudgeServer(failing) as strong, \
            _spec(cheap, strong, max_attempts=1).build() as judge:
        result = judge.score(ROWS[:1], RUBRIC)[0]
    assert result.scores["a"] == 1 and result.scores["b"] is None and result.reward is None
    assert result.decided_by == {"a": "openai:cheap"}
    why = result.unscored["b"]
    assert why.startswith("no judge of the cascade decided: openai:cheap: confidence 0.55 below 0.8; openai:strong: judge call failed")


def test_pairs_name_the_judge_of_each_criterion(two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, strong = two
    with _spec(cheap, strong).build() as judge:
        results = judge.compare(PAIRS, RUBRIC)
    # pairwise log-probabilities: 0.95 for a's preference, 0.55 for b's
    assert all(r.decided_by == {"a": "openai:cheap", "b": "openai:strong"} for r in results)
    assert all(r.winner == "A" for r in results)


def test_rows_without_a_cascade_have_no_decided_by(two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, _ = two
    with judgekit.Judge("openai:cheap", base_url=cheap.base_url, cache=False) as judge:
        row = judge.score(ROWS[:1], RUBRIC)[0].model_dump()
        pair = judge.compare(PAIRS[:1], RUBRIC)[0].model_dump()
        assert judge.cascade is None
    assert list(row) == ["id", "reward", "coverage", "scores", "unscored"]
    assert list(pair) == ["id", "winner", "margin", "preferences", "inconsistent", "unscored"]


def test_a_judge_without_log_probabilities_is_refused_unless_samples_measure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    spec = judgekit.JudgeSpec(cascade=[{"judge": "anthropic:claude-haiku-4-5"}, {"judge": "openai:strong",
                                                                                   "base_url": "http://127.0.0.1:9/v1"}])
    with pytest.raises(InputError, match="gives no log-probabilities") as caught:
        spec.build()
    assert caught.value.field == "cascade.0.judge"
    spec.with_settings(samples=3).build().close()


def test_confidence_is_the_probability_of_the_verdict_given() -> None:
    assert confidence(CriterionVerdict(True, dist={"true": 0.3, "false": 0.7})) == 0.3
    assert confidence(CriterionVerdict(False, dist={"true": 0.3, "false": 0.7})) == 0.7
    assert confidence(CriterionVerdict("B", dist={"A": 0.1, "B": 0.6, "tie": 0.3})) == 0.6
    assert confidence(CriterionVerdict(4, dist={"4": 2 / 3, "5": 1 / 3})) == 2 / 3  # the share of samples
    assert confidence(CriterionVerdict(True)) is None


def _panel_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cascade.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    ("cascade:\n  - judge: openai:a\nthreshold: 0.5\n", 1, "cascade", "at least 2 judges"),
    ("cascade:\n  - judge: openai:a\n  - judge: openai:b\nthreshold: 1.5\n", 4, "threshold", "less than or equal to 1"),
    ("judges:\n  - judge: openai:a\ncascade:\n  - judge: openai:a\n  - judge: openai:b\n", 3, "cascade", "not both"),
    ("cascade:\n  - judge: openai:a\n    weight: 2\n  - judge: openai:b\n", 3, "cascade.0.weight", "unknown key"),
])
def test_a_bad_cascade_file_names_file_line_and_field(tmp_path: Path, text: str, line: int, field: str, message: str) -> None:
    path = _panel_file(tmp_path, text)
    rows = write_jsonl(tmp_path / "rows.jsonl", ROWS[:1])
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT, encoding="utf-8")
    done = run_cli("score", str(rows), "--rubric", str(tmp_path / "r.yaml"), "--panel", str(path), "-o", str(tmp_path / "o.jsonl"))
    assert done.returncode == 2, done.stderr
    assert f"{path}:{line}" in done.stderr and f"'{field}'" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_cli_writes_decided_by_and_prints_each_level(tmp_path: Path, two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, strong = two
    path = _panel_file(tmp_path, f"cascade:\n  - judge: openai:cheap\n    base_url: {cheap.base_url}\n"
                                 f"  - judge: openai:strong\n    base_url: {strong.base_url}\nthreshold: 0.8\n")
    rows = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    done = run_cli("score", str(rows), "--rubric", str(tmp_path / "r.yaml"), "--panel", str(path), "-o", str(out), "--no-cache")
    assert done.returncode == 0, done.stderr
    assert [r["decided_by"] for r in read_jsonl(out)] == [{"a": "openai:cheap", "b": "openai:strong"}] * 4
    assert "cascade (threshold 0.8)" in done.stderr
    assert "level 1 openai:cheap: decided 4 (50.0%), passed on 4 (failed 0); calls 8" in done.stderr, done.stderr
    assert "level 2 openai:strong: decided 4 (50.0%), passed on 0 (failed 0); calls 4" in done.stderr, done.stderr
    record = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert record["judge"]["threshold"] == 0.8 and [j["judge"] for j in record["judge"]["cascade"]] == ["openai:cheap", "openai:strong"]
    # --resume never mixes two cascades in one file
    path.write_text(path.read_text().replace("threshold: 0.8", "threshold: 0.6"), encoding="utf-8")
    again = run_cli("score", str(rows), "--rubric", str(tmp_path / "r.yaml"), "--panel", str(path), "-o", str(out), "--no-cache",
                    "--resume")
    assert again.returncode == 2 and "--resume would mix two runs" in again.stderr, again.stderr


def test_check_rate_asks_the_last_judge_a_sample_and_counts_agreement(two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, strong = two
    with _spec(cheap, strong, check_rate=1.0).build() as judge:
        results = judge.score(ROWS, RUBRIC)
        cascade = judge.cascade.as_dict() if judge.cascade else {}
    # every question decided by the cheap judge (criterion a) also went to the strong one, counted apart
    assert _asked(strong) == ["a"] * 4 + ["b"] * 4
    assert cascade["check"] == {"rate": 1.0, "checked": 4, "agreed": 2, "agreement": 0.5, "calls": 4, "cost_usd": None}
    assert [lv["calls"] for lv in cascade["levels"]] == [8, 4]
    assert all(r.decided_by == {"a": "openai:cheap", "b": "openai:strong"} for r in results)  # the check changes no verdict
    with _spec(cheap, strong, check_rate=0.5).build() as judge:
        judge.score([{"id": i, "prompt": f"q{i}", "response": "yes"} for i in range(40)], RUBRIC)
        checked = judge.cascade.check.checked if judge.cascade and judge.cascade.check else 0
    assert 10 <= checked <= 30  # about half of the 40 questions decided early


@pytest.mark.skipif(not (SHARED_DATA / "llmbar").exists(), reason="needs the shared LLMBar data")
def test_the_eval_report_gives_each_level(tmp_path: Path, two: tuple[ScriptedJudgeServer, ScriptedJudgeServer]) -> None:
    cheap, strong = two
    path = _panel_file(tmp_path, f"cascade:\n  - judge: openai:cheap\n    base_url: {cheap.base_url}\n"
                                 f"  - judge: openai:strong\n    base_url: {strong.base_url}\n")
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT, encoding="utf-8")
    report_path = tmp_path / "report.json"
    done = run_cli("eval", str(SHARED_DATA / "llmbar" / "natural.json"), "--format", "llmbar", "--rubric", str(tmp_path / "r.yaml"),
                   "--panel", str(path), "--limit", "3", "--no-cache", "-o", str(report_path))
    assert done.returncode == 0, done.stderr
    levels = json.loads(report_path.read_text())["cascade"]["levels"]
    # 3 pairs x 2 orders x 2 criteria: a decided by the cheap judge, b by the strong one
    assert [(lv["judge"], lv["decided"], lv["share"], lv["calls"]) for lv in levels] == [
        ("openai:cheap", 6, 0.5, 12), ("openai:strong", 6, 0.5, 6)]
    assert "level 2 openai:strong: decided 6 (50.0%)" in done.stderr


def test_samples_measure_confidence_by_agreement() -> None:
    """With --samples, confidence is the share of the samples that gave the verdict: the cheap judge's
    samples split on b (2 of 3) and agree on a, whatever its log-probabilities would say."""
    calls = {"b": 0}

    def met(cid: str, response: str) -> bool:
        if cid != "b":
            return True
        calls["b"] += 1
        return calls["b"] % 3 != 0  # MET, MET, UNMET: a 2-to-1 split on each row's b

    cheap_state = ServerState(script=Script(met=met), verdict_probability=lambda cid, verdict: 0.55)
    with ScriptedJudgeServer(cheap_state) as cheap, ScriptedJudgeServer(_strong()) as strong, \
            _spec(cheap, strong, samples=3, concurrency=1).build() as judge:
        result = judge.score(ROWS[1:2], RUBRIC)[0]
        levels = judge.cascade.as_dict()["levels"] if judge.cascade else []
    assert result.decided_by == {"a": "openai:cheap", "b": "openai:strong"}
    assert not any(body.get("logprobs") for body in cheap.state.requests)  # samples measure it: no log-probabilities asked
    assert _asked(strong) == ["b"] * 3 and [lv["decided"] for lv in levels] == [1, 1]


def test_a_bad_cascade_spec_in_python_is_refused() -> None:
    two_judges = [{"judge": "openai:a"}, {"judge": "openai:b"}]
    for fields, message in [({"cascade": [{"judge": "openai:a"}]}, "at least 2 judges"),
                            ({"cascade": two_judges, "threshold": -0.1}, "greater than or equal to 0"),
                            ({"cascade": two_judges, "judges": two_judges}, "not both"),
                            ({"threshold": 0.5}, "a cascade's")]:
        with pytest.raises(ValueError, match=message):
            judgekit.JudgeSpec(**fields)
    spec = judgekit.JudgeSpec(cascade=two_judges, threshold=0.7)
    assert spec.name == "cascade(openai:a, openai:b; 0.7)" and [s.judge for s in spec.seats()] == ["openai:a", "openai:b"]
