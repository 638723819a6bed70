"""Judge panels (`--panel panel.yaml`, judgekit.Panel) against several scripted HTTP judges on their
own ports: each judge answers on its own, the votes are aggregated, a failing judge abstains, and
Krippendorff's alpha measures how far the judges agree."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import pickle
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import judgekit
from judgekit.judging.agreement import AgreementLog, krippendorff_alpha
from judgekit.judging.votes import Vote, decide
from judgekit.rl import verl as jverl
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import CLI, ROOT, free_port, prefer_yes, read_jsonl, run_cli, write_jsonl
from tests.helpers import KIND_RUBRIC as RUBRIC
from tests.helpers import KIND_RUBRIC_TEXT as RUBRIC_TEXT
from tests.helpers import YES_NO_ROWS as ROWS
from tests.rl.test_serve import http

PAIRS = [{"id": i, "prompt": "q", "response_a": "yes", "response_b": "no"} for i in range(3)]


SCRIPTS = {
    "good": ServerState(script=Script(met=lambda cid, r: "yes" in r, prefer=prefer_yes)),
    "contrarian": ServerState(script=Script(met=lambda cid, r: "yes" not in r, prefer=lambda c, a, b: prefer_yes(c, b, a))),
    "biased": ServerState(script=Script(met=lambda cid, r: True, prefer=lambda cid, a, b: "A")),  # always the first shown
    "failing": ServerState(faults=Faults(server_error=1.0)),  # 500 on every call
}


@pytest.fixture
def servers() -> Iterator[dict[str, ScriptedJudgeServer]]:
    started = {name: ScriptedJudgeServer(ServerState(script=s.script, faults=s.faults)) for name, s in SCRIPTS.items()}
    for s in started.values():
        s.__enter__()
    yield started
    for s in started.values():
        s.__exit__()


def member(servers: dict[str, ScriptedJudgeServer], name: str, weight: float = 1.0) -> dict[str, object]:
    return {"judge": f"openai:{name}", "base_url": servers[name].base_url, "weight": weight}


def panel(servers: dict[str, ScriptedJudgeServer], names: list[str], aggregate: str = "majority", **kw: object) -> judgekit.Judge:
    kw.setdefault("cache", False)
    kw.setdefault("max_attempts", 1)
    return judgekit.Panel([member(servers, n) for n in names], aggregate=aggregate, **kw)  # type: ignore[arg-type]


def calls(servers: dict[str, ScriptedJudgeServer]) -> dict[str, int]:
    return {name: s.state.count for name, s in servers.items()}


# ---- the votes, as pure functions ---------------------------------------------------------------

@pytest.mark.parametrize(("rule", "values", "weights", "pairwise", "expected"), [
    ("majority", [True, True, False], [1, 1, 1], False, True),
    ("majority", [True, False], [1, 1], False, None),
    ("weighted", [True, False], [2, 1], False, True),
    ("weighted", [True, False, False], [2, 1, 1], False, None),
    ("unanimous", [True, True, False], [1, 1, 1], False, False),
    ("unanimous", [True, True], [1, 1], False, True),
    ("any", [False, False, True], [1, 1, 1], False, True),
    ("majority", ["A", "B"], [1, 1], True, "tie"),
    ("majority", ["A", "A", "B"], [1, 1, 1], True, "A"),
    ("weighted", ["A", "B", "B"], [3, 1, 1], True, "A"),
    ("unanimous", ["A", "A", "tie"], [1, 1, 1], True, "tie"),
    ("any", ["A", "tie"], [1, 1], True, "A"),
    ("any", ["A", "B"], [1, 1], True, "tie"),
])
def test_decide(rule, values, weights, pairwise, expected):
    value, why = decide([Vote(v, w) for v, w in zip(values, weights)], rule, pairwise)
    assert value == expected
    assert (why is None) == (expected is not None)


def test_no_vote_gives_no_verdict():
    assert decide([], "any", pairwise=True) == (None, "no vote")


def test_krippendorff_alpha_of_krippendorffs_worked_example():
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12 units
    example with missing values: nominal alpha = 0.743."""
    coders = ["1 2 3 3 2 1 4 1 2 . . .", "1 2 3 3 2 2 4 1 2 5 . 3", ". 3 3 3 2 3 4 2 2 5 1 .", "1 2 3 3 2 4 4 1 2 5 1 ."]
    table = [[None if v == "." else f"v{v}" for v in row.split()] for row in coders]
    units = [list(unit) for unit in zip(*table)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_is_undefined_without_variation_or_pairs():
    assert krippendorff_alpha([[True, True], [True, True]]) is None
    assert krippendorff_alpha([[True, None], [None, False]]) is None
    log = AgreementLog()
    log.add_panel("a", [True, False])
    log.add_panel("a", [True, True])
    assert log.as_dict() == {"krippendorff_alpha": {"a": pytest.approx(krippendorff_alpha([[True, False], [True, True]]))}}


# ---- panels over HTTP ---------------------------------------------------------------------------

def test_majority_of_three_judges_each_asked_once_per_criterion(servers):
    with panel(servers, ["good", "contrarian", "good"]) as p:
        results = p.score(ROWS, RUBRIC)
        alpha = p.agreement.alpha()
    assert [r.scores for r in results] == [{"a": int(i % 2), "b": int(i % 2)} for i in range(4)]
    # the two "good" judges share one server: 2 calls per criterion per row; the contrarian 1
    assert calls(servers) == {"good": 2 * 2 * 4, "contrarian": 2 * 4, "biased": 0, "failing": 0}
    units = [[i % 2 == 1, i % 2 == 0, i % 2 == 1] for i in range(4)]
    assert alpha == {"a": pytest.approx(krippendorff_alpha(units)), "b": pytest.approx(krippendorff_alpha(units))}


def test_a_judge_that_fails_every_call_abstains(servers):
    with panel(servers, ["good", "failing"]) as p:
        results = p.score(ROWS, RUBRIC)
        stats = p.stats.as_dict()
    assert [r.reward for r in results] == [0.0, 1.0, 0.0, 1.0]  # the good judge's, the failed one no vote
    assert all(r.unscored == {} for r in results)
    assert calls(servers)["failing"] == 2 * 4  # asked once per criterion per row (max_attempts=1)
    assert stats["failed_calls"] == 2 * 4


def test_no_vote_left_is_unscored_with_every_judges_reason(servers):
    with panel(servers, ["failing", "failing"]) as p:
        [result] = p.score(ROWS[:1], RUBRIC)
    assert result.reward is None and result.scores == {"a": None, "b": None}
    reason = result.unscored["a"]
    assert reason.startswith("no judge gave a verdict: judge 1 (openai:failing): judge call failed")
    assert "; judge 2 (openai:failing): judge call failed" in reason


@pytest.mark.parametrize(("aggregate", "weights", "expected"), [
    ("majority", (1, 1), [None, None]),  # 1 against 1: no majority
    ("weighted", (2, 1), [0, 1]),  # the good judge outweighs
    ("unanimous", (1, 1), [0, 0]),  # never both MET
    ("any", (1, 1), [1, 1]),  # always one MET
])
def test_aggregations_of_two_disagreeing_judges(servers, aggregate, weights, expected):
    members = [member(servers, "good", weights[0]), member(servers, "contrarian", weights[1])]
    with judgekit.Panel(members, aggregate=aggregate, cache=False) as p:  # type: ignore[arg-type]
        results = p.score(ROWS[:2], RUBRIC)
    assert [r.scores["a"] for r in results] == expected
    if expected[0] is None:
        assert results[0].unscored["a"] == "no majority (MET 1, UNMET 1)"


def test_a_judge_biased_to_a_is_outvoted_or_outweighed(servers):
    with panel(servers, ["good", "biased"]) as p:  # in the swapped order: 1 vote each way -> a tie
        [pair] = p.compare(PAIRS[:1], RUBRIC)
    assert pair.preferences == {"a": 0, "b": 0} and pair.inconsistent == ["a", "b"] and pair.winner == "tie"
    members = [member(servers, "good", 2), member(servers, "biased"), member(servers, "failing")]
    with judgekit.Panel(members, aggregate="weighted", cache=False, max_attempts=1) as p:  # type: ignore[arg-type]
        results = p.compare(PAIRS, RUBRIC)
    assert [r.winner for r in results] == ["A"] * 3 and all(r.inconsistent == [] for r in results)
    # per pair: 2 criteria x 2 orders for each judge
    assert calls(servers)["biased"] == 2 * 2 * (1 + 3) and calls(servers)["failing"] == 2 * 2 * 3


def test_a_panel_in_rank_and_in_the_trl_and_verl_rewards(servers):
    with panel(servers, ["good", "biased", "good"]) as p:
        outcome = p.run(judgekit.rank_group(p, RUBRIC, "q", ["no", "yes"]))
        reward = judgekit.trl_reward(RUBRIC, p, log=False)
        rewards = asyncio.run(reward(prompts=["q", "q"], completions=["yes", "no"]))
        compute_score = judgekit.verl_compute_score(RUBRIC, p, return_dict=False)

        async def verl_scores() -> list[object]:
            return [await compute_score("src", text, "gt", extra_info={"question": "q"}) for text in ("yes", "no")]

        verl = asyncio.run(verl_scores())
    assert outcome.rewards == [0.0, 1.0]
    assert rewards == [1.0, 0.0]
    assert verl == [1.0, 0.0]


def test_samples_in_a_panel_multiply_the_calls(servers):
    with panel(servers, ["good", "contrarian"], aggregate="weighted", samples=3) as p:
        results = p.score(ROWS[:2], RUBRIC)
        agreement = p.agreement.as_dict()
    assert calls(servers) == {"good": 3 * 2 * 2, "contrarian": 3 * 2 * 2, "biased": 0, "failing": 0}
    assert agreement["self_agreement"] == {"a": 1.0, "b": 1.0}
    assert [r.scores["a"] for r in results] == [None, None]  # 1 against 1 with equal weights


def test_the_panel_file_and_the_python_list_are_the_same_panel(servers, tmp_path: Path):
    path = tmp_path / "panel.yaml"
    path.write_text("judges:\n" + "".join(
        f"  - judge: openai:{n}\n    base_url: {servers[n].base_url}\n    weight: {w}\n" for n, w in (("good", 2), ("contrarian", 1)))
        + "aggregate: weighted\n")
    members = [member(servers, "good", 2), member(servers, "contrarian")]
    as_list = judgekit.JudgeSpec(judges=members, aggregate="weighted", cache=False)  # type: ignore[arg-type]
    with judgekit.Panel(path, cache=False) as p, judgekit.Judge(as_list) as q:
        assert p.judge_spec == as_list == judgekit.load_panel(path).with_settings(cache=False)
        assert [r.scores["a"] for r in p.score(ROWS[:2], RUBRIC)] == [0, 1] == [r.scores["a"] for r in q.score(ROWS[:2], RUBRIC)]


BAD_PANELS = {
    "unknown_spec": ("judges:\n  - judge: openai:m\n  - judge: gpt4:m\n", "panel.yaml:3", "field 'judges.1.judge'", "unknown judge 'gpt4:m'"),
    "no_model": ("judges:\n  - judge: 'openai:'\n", "panel.yaml:2", "field 'judges.0.judge'", "needs a model name"),
    "no_judges": ("judges: []\naggregate: any\n", "panel.yaml:1", "field 'judges'", "at least 1"),
    "unknown_key": ("judges:\n  - judge: openai:m\n    wieght: 2\n", "panel.yaml:3", "judges.0.wieght", "unknown key"),
    "bad_aggregate": ("judges:\n  - judge: openai:m\naggregate: mean\n", "panel.yaml:3", "field 'aggregate'", "majority"),
    "unknown_profile": ("judges:\n  - judge: openai:m\n    profile: nope\n", "panel.yaml:3", "judges.0.profile", "nope"),
    "zero_weight": ("judges:\n  - judge: openai:m\n    weight: 0\n", "panel.yaml:3", "judges.0.weight", "greater than 0"),
}


@pytest.mark.parametrize("case", list(BAD_PANELS))
def test_bad_panel_file_exit_2_naming_file_line_and_field(tmp_path: Path, case: str):
    text, where, field, words = BAD_PANELS[case]
    (tmp_path / "panel.yaml").write_text(text)
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    data = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    proc = run_cli("score", str(data), "--rubric", str(tmp_path / "r.yaml"), "--panel", str(tmp_path / "panel.yaml"))
    assert proc.returncode == 2, proc.stderr
    for part in (where, field, words):
        assert part in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def _panel_file(tmp_path: Path, servers: dict[str, ScriptedJudgeServer], names: list[str], aggregate: str = "majority") -> Path:
    path = tmp_path / "panel.yaml"
    path.write_text(json.dumps({"judges": [member(servers, n) for n in names], "aggregate": aggregate}))  # JSON is YAML
    return path


def test_cli_score_compare_rank_with_a_panel(servers, tmp_path: Path):
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    env = {"JUDGEKIT_CACHE_DIR": str(tmp_path / "cache")}
    panel_file = _panel_file(tmp_path, servers, ["good", "contrarian", "good", "failing"])
    common = ("--rubric", str(tmp_path / "r.yaml"), "--panel", str(panel_file), "--max-attempts", "1")
    scored = tmp_path / "scored.jsonl"
    proc = run_cli("score", str(write_jsonl(tmp_path / "rows.jsonl", ROWS)), *common, "-o", str(scored), env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["reward"] for r in read_jsonl(scored)] == [0.0, 1.0, 0.0, 1.0]
    assert "inter-judge Krippendorff's alpha: a " in proc.stderr
    compared = tmp_path / "compared.jsonl"
    proc = run_cli("compare", str(write_jsonl(tmp_path / "pairs.jsonl", PAIRS)), *common, "-o", str(compared), env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["winner"] for r in read_jsonl(compared)] == ["A"] * 3
    ranked = tmp_path / "ranked.jsonl"
    groups = [{"id": 1, "prompt": "q", "responses": ["no", "yes", "no"]}]
    proc = run_cli("rank", str(write_jsonl(tmp_path / "groups.jsonl", groups)), *common, "-o", str(ranked), env=env)
    assert proc.returncode == 0, proc.stderr
    assert read_jsonl(ranked)[0]["rewards"] == [0.0, 1.0, 0.0]


def test_cli_eval_with_a_panel_reports_alpha(servers, tmp_path: Path):
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    rows = [{"pair_id": f"p{i}", "question": "q", "response_A": "yes" if i % 2 else "no",
             "response_B": "no" if i % 2 else "yes", "label": "A>B" if i % 2 else "B>A"} for i in range(4)]
    data = write_jsonl(tmp_path / "judgebench.jsonl", rows)
    panel_file = _panel_file(tmp_path, servers, ["good", "biased", "good"])
    proc = run_cli("eval", str(data), "--format", "judgebench", "--rubric", str(tmp_path / "r.yaml"), "--panel",
                   str(panel_file), "-o", "-", env={"JUDGEKIT_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["judge"].startswith("panel(openai:good, openai:biased, openai:good")
    assert report["overall"]["accuracy"] == 1.0 and report["overall"]["position_consistency"] == 1.0  # the biased judge outvoted
    assert servers["biased"].state.count == 2 * 2 * 4  # criteria x orders x pairs
    assert set(report["krippendorff_alpha"]) == {"a", "b"}
    assert all(a is not None and a < 1 for a in report["krippendorff_alpha"].values())


def test_the_reward_server_with_a_panel(servers, tmp_path: Path):
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--rubric", str(tmp_path / "r.yaml"), "--port", str(port), "--no-cache",
                             "--panel", str(_panel_file(tmp_path, servers, ["good", "failing", "good"])), "--max-attempts", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                if http("GET", url + "/health")[0] == 200:
                    break
            time.sleep(0.2)
        body = {"query": ["q yes", "q no"], "prompts": ["q ", "q "]}
        status, out = http("POST", url + "/get_reward", json.dumps(body).encode())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert status == 200, out
    assert out["rewards"] == [1.0, 0.0]


def test_panel_and_judge_together_is_bad_usage(tmp_path: Path):
    (tmp_path / "panel.yaml").write_text("judges:\n  - judge: openai:m\n")
    (tmp_path / "r.yaml").write_text(RUBRIC_TEXT)
    proc = run_cli("score", str(write_jsonl(tmp_path / "in.jsonl", ROWS[:1])), "--rubric", str(tmp_path / "r.yaml"),
                   "--panel", str(tmp_path / "panel.yaml"), "--judge", "openai:m")
    assert proc.returncode == 2 and "--panel" in proc.stderr and "Traceback" not in proc.stderr


def test_a_panels_judge_spec_travels_pickled_into_the_trl_and_verl_rewards(servers):
    spec = judgekit.JudgeSpec(judges=[member(servers, "good"), member(servers, "biased"), member(servers, "good")],  # type: ignore[list-item]
                              cache=False, max_attempts=1)
    reward = pickle.loads(pickle.dumps(judgekit.TrlReward(RUBRIC, spec, log=False)))
    assert asyncio.run(reward(prompts=["q", "q"], completions=["yes", "no"])) == [1.0, 0.0]
    assert reward.judge.spec == "panel(openai:good, openai:biased, openai:good; majority)"
    compute_score = pickle.loads(pickle.dumps(judgekit.verl_compute_score(RUBRIC, spec, return_dict=False)))
    # verl's reward_kwargs may describe the panel as data, and settings beside it replace the spec's own
    settings = {"judge": spec.model_dump(mode="json", exclude_unset=True), "rubric": RUBRIC, "return_dict": False,
                "max_attempts": 2}

    async def verl_scores() -> list[object]:
        return [await fn("src", text, "gt", extra_info={"question": "q"}) for fn in (compute_score, functools.partial(
            jverl.compute_score, **settings)) for text in ("yes", "no")]

    try:
        assert asyncio.run(verl_scores()) == [1.0, 0.0, 1.0, 0.0]
    finally:
        jverl.close_judges()
    assert calls(servers)["biased"] == 2 * 2 * 2 + 2 * 2  # TRL's two completions, then verl's two twice (the good server: x2)


def test_judge_takes_a_judge_spec_and_refuses_settings_beside_it(servers):
    spec = judgekit.JudgeSpec("openai:good", base_url=servers["good"].base_url, cache=False)
    with judgekit.Judge(spec) as judge:
        assert judge.judge_spec == spec and judge.spec == "openai:good"
        assert [r.reward for r in judge.score(ROWS[:2], RUBRIC)] == [0.0, 1.0]
    with pytest.raises(judgekit.InputError, match=r"^Judge\(\), argument 'spec': concurrency: settings of a spec string"):
        judgekit.Judge(spec, concurrency=2)
    with pytest.raises(judgekit.InputError, match=r"^TrlReward\(\), argument 'judge': a judge is a spec string"):
        judgekit.TrlReward(RUBRIC, 42)  # type: ignore[arg-type]
