"""Judge profiles end to end: each built-in profile against a scripted server speaking its native
format (score, compare, eval), malformed variants (unscored with a reason, never a default),
user profiles from YAML, soft P(yes), rubric-rm's generator, and two-phase reasoning."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

import judgekit
from judgekit.llm.base import Completion
from judgekit.protocol.profiles import builtin_profiles, load_profile
from judgekit.protocol.soft import native_distribution
from judgekit.protocol.wire import ParseProblem
from judgekit.rubric.models import Rubric
from judgekit.testing import Script, ScriptedJudgeServer, ServerState
from judgekit.testing.native import MALFORMED
from tests.helpers import SHARED_DATA, run_cli, write_jsonl

NATIVE = ["rm-r1", "prometheus2", "rubric-rm", "yes-no"]
RUBRIC = Rubric(name="t", criteria=[{"id": "correct", "text": "The answer is correct."},
                                    {"id": "polite", "text": "The answer is polite."}])
ROWS = [{"id": "r4", "prompt": "What is 2+2?", "response": "4"}, {"id": "r5", "prompt": "What is 2+2?", "response": "5"}]
PAIRS = [{"id": "p1", "prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "label": "A"},
         {"id": "p2", "prompt": "What is 2+2?", "response_a": "5", "response_b": "4", "label": "B"}]


def _script() -> Script:
    # Native prompts carry the criterion's text, judgekit's the id: both contain "correct".
    return Script(
        met=lambda c, r: ("4" in r) if "correct" in c else True,
        prefer=lambda c, a, b: ("A" if "4" in a else "B") if "correct" in c else "tie",
    )


def test_every_builtin_profile_loads_with_both_modes() -> None:
    assert set(builtin_profiles()) == {"judgekit", *NATIVE}
    for name in builtin_profiles():
        profile = load_profile(name)
        assert profile.pointwise is not None and profile.pairwise is not None
        assert profile.models, name


# ---- parsing: well-formed answers always parse, malformed ones never do --------------------------


WELL_FORMED = {
    ("rm-r1", "pointwise"): [("<type>Chat</type><eval>ok</eval>\n<answer>[[YES]]</answer>", True),
                             ("<think>hmm</think>\n<answer>[[NO]]</answer>", False), ("<answer>[[ yes ]]</answer>", True)],
    ("rm-r1", "pairwise"): [("<eval>x</eval>\n<answer>[[A]]</answer>", "A"), ("<answer>[[B]]</answer>", "B")],
    ("prometheus2", "pointwise"): [("Feedback: fine. [RESULT] 5", True), ("Feedback: weak. [RESULT] 3", False),
                                   ("Feedback: good [RESULT]: 4", True), ("Feedback: x [RESULT] (2)", False)],
    ("prometheus2", "pairwise"): [("Feedback: A is right. [RESULT] A", "A"), ("Feedback: x [RESULT] Response B", "B")],
    ("rubric-rm", "pointwise"): [("--- Final Judgment ---\nJustification: ok\nVerdict: Yes", True), ("Verdict: **No**", False)],
    ("rubric-rm", "pairwise"): [("--- Final Judgment ---\nWinner: Response A", "A"), ("Winner: **Response B**", "B"),
                                ("Winner: B", "B")],
    ("yes-no", "pointwise"): [("Yes", True), ("No.", False), ("yes", True)],
    ("yes-no", "pairwise"): [("Yes", "A"), ("No", "B")],
}


@pytest.mark.parametrize("key", sorted(WELL_FORMED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_well_formed_native_answers_all_parse(key: tuple[str, str]) -> None:
    profile, mode = key
    p = load_profile(profile)
    for text, expected in WELL_FORMED[key]:
        found, problems = p.parse(text, mode, ["c"])  # type: ignore[arg-type]
        assert found["c"].value == expected, (text, problems)


@pytest.mark.parametrize("key", [(p, m, v) for p in MALFORMED for m in MALFORMED[p] for v in MALFORMED[p][m]],
                         ids=lambda k: "-".join(k))
def test_malformed_native_answers_never_parse(key: tuple[str, str, str]) -> None:
    profile, mode, variant = key
    with pytest.raises(ParseProblem) as info:
        load_profile(profile).parse(MALFORMED[profile][mode][variant], mode, ["c"])  # type: ignore[arg-type]
    assert str(info.value)


# ---- end to end: score, compare, eval against a server speaking each format ---------------------


@pytest.mark.parametrize("profile", ["judgekit", *NATIVE])
def test_profile_scores_and_compares_end_to_end(profile: str, tmp_path: Path) -> None:
    state = ServerState(script=_script())
    rubric = tmp_path / "r.yaml"
    rubric.write_text("name: t\ncriteria:\n  - {id: correct, text: The answer is correct.}\n"
                      "  - {id: polite, text: The answer is polite.}\n", encoding="utf-8")
    with ScriptedJudgeServer(state) as server:
        common = ["--judge", "openai:judge", "--base-url", server.base_url, "--profile", profile, "-o", "-"]
        scored = run_cli("score", str(write_jsonl(tmp_path / "s.jsonl", ROWS)), "--rubric", str(rubric), *common)
        compared = run_cli("compare", str(write_jsonl(tmp_path / "c.jsonl", PAIRS)), "--rubric", str(rubric), *common)
    assert scored.returncode == 0, scored.stderr
    assert compared.returncode == 0, compared.stderr
    s = [json.loads(line) for line in scored.stdout.splitlines()]
    c = [json.loads(line) for line in compared.stdout.splitlines()]
    if profile == "rubric-rm":  # the generated rubric joins the given one; the server's list has 3 items
        assert all(len(r["generated_criteria"]) == 3 for r in s + c)
    assert [(r["id"], r["scores"]["correct"], r["scores"]["polite"]) for r in s] == [("r4", 1, 1), ("r5", 0, 1)]
    assert all(not r["unscored"] for r in s + c)
    assert [(r["id"], r["winner"], r["preferences"]["correct"]) for r in c] == [("p1", "A", 1), ("p2", "B", -1)]
    if profile != "judgekit":
        # No native format has a tie: the scripted judge falls back on "A", both orders catch it.
        assert all("polite" in r["inconsistent"] for r in c)
        assert not any(req.get("response_format") for req in state.requests)


@pytest.mark.parametrize("profile", NATIVE)
def test_profile_evaluates_on_shared_data(profile: str, tmp_path: Path) -> None:
    state = ServerState(script=Script(met=lambda c, r: True, prefer=lambda c, a, b: "A" if len(a) >= len(b) else "B"))
    out = tmp_path / "report.json"
    with ScriptedJudgeServer(state) as server:
        proc = run_cli("eval", str(SHARED_DATA / "llmbar" / "natural.json"), "--format", "llmbar",
                       "--rubric", "rubrics/helpfulness.yaml", "--limit", "3", "--judge", "openai:judge",
                       "--base-url", server.base_url, "--profile", profile, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["profile"] == profile
    assert report["overall"]["n"] == 3
    assert report["overall"]["unscored_criteria"] == 0.0


def test_eval_compares_several_profiles_with_one_judge(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with ScriptedJudgeServer(ServerState(script=_script())) as server:
        proc = run_cli("eval", str(SHARED_DATA / "llmbar" / "natural.json"), "--format", "llmbar",
                       "--rubric", "rubrics/helpfulness.yaml", "--limit", "2", "--judge", "openai:judge",
                       "--base-url", server.base_url, "--profile", "judgekit,yes-no", "--profile", "prometheus2",
                       "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "profiles compared" in proc.stderr
    report = json.loads(out.read_text())
    assert set(report["profiles"]) == {"judgekit", "yes-no", "prometheus2"}
    for name, one in report["profiles"].items():  # each profile's pairs in a file of its own, beside the report
        assert one["pairs_file"] == f"report.{name}.pairs.jsonl"
        assert len((tmp_path / one["pairs_file"]).read_text().splitlines()) == one["overall"]["n"] == 2
    difference = report["difference"]  # each profile's accuracy minus the first's, on the same pairs
    assert difference["baseline"] == "judgekit" and set(difference["profiles"]) == {"yes-no", "prometheus2"}
    for name, gain in difference["profiles"].items():
        accuracy = report["profiles"][name]["overall"]["accuracy"] - report["profiles"]["judgekit"]["overall"]["accuracy"]
        assert gain["n"] == 2 and gain["accuracy"] == pytest.approx(accuracy, abs=1e-4)
        assert gain["accuracy_ci"][0] <= gain["accuracy"] <= gain["accuracy_ci"][1]


# ---- malformed answers end to end: unscored with the reason, re-asked first -----------------------


@pytest.mark.parametrize("key", [(p, v) for p in MALFORMED for v in MALFORMED[p]["pointwise"]], ids=lambda k: "-".join(k))
def test_malformed_answers_end_unscored_with_reason(key: tuple[str, str]) -> None:
    profile, variant = key
    state = ServerState(script=_script(), malformed=variant)
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile=profile, cache=False, max_reasks=1) as judge:
        result = judge.score(ROWS[:1], RUBRIC)[0]
    # (rubric-rm also judges the 3 criteria its generator wrote: 5 criteria, one generation call)
    criteria = 2 if profile != "rubric-rm" else 5
    assert result.reward is None and list(result.scores.values()) == [None] * criteria
    assert all("no valid verdict after 2 ask(s)" in reason for reason in result.unscored.values()), result.unscored
    assert judge.stats.reasks == criteria and judge.stats.calls == 2 * criteria + (profile == "rubric-rm")


def test_a_malformed_answer_is_reasked_in_the_native_format() -> None:
    state = ServerState(script=_script(), malformed="unknown_label", malformed_times=1)
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="rm-r1", cache=False) as judge:
        result = judge.score(ROWS[:1], Rubric(name="t", criteria=[{"id": "correct", "text": "The answer is correct."}]))[0]
    assert result.scores == {"correct": 1}
    reask = state.requests[1]["messages"][-1]["content"]
    assert "'MAYBE' is not one of" in reask and "<answer>[[YES]]</answer>" in reask


# ---- soft P(yes), user profiles ----------------------------------------------------------------


def test_yes_no_keeps_p_yes_from_logprobs() -> None:
    state = ServerState(script=_script(), verdict_probability=lambda c, v: 0.9)
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="yes-no", cache=False) as judge:
        r4, r5 = judge.score(ROWS, RUBRIC)
    assert r4.soft == pytest.approx({"correct": 0.9, "polite": 0.9})
    assert r5.soft == pytest.approx({"correct": 0.1, "polite": 0.9})  # "No" at 0.9: P(yes) = 0.1
    assert r5.soft_reward == pytest.approx(0.5) and r4.soft_reward == pytest.approx(0.9)
    assert all(req.get("logprobs") for req in state.requests)


def test_native_distribution_reads_a_verdict_split_across_tokens() -> None:
    parser = load_profile("prometheus2").pointwise.parser  # type: ignore[union-attr]
    tokens = [{"token": "Feedback: ok [RESULT", "logprob": 0.0}, {"token": "] ", "logprob": 0.0},
              {"token": "4", "logprob": math.log(0.5), "top_logprobs": [
                  {"token": "4", "logprob": math.log(0.5)}, {"token": "5", "logprob": math.log(0.3)},
                  {"token": "2", "logprob": math.log(0.2)}]}]
    dist = native_distribution(Completion(text="", token_logprobs=tokens), parser)
    assert dist == pytest.approx({"true": 0.8, "false": 0.2})


def _user_profile(folder: Path, parser: str, template: str = "mine.j2") -> Path:
    (folder / "mine.j2").write_text('Q: {{ fenced("prompt", instruction) }}\nA: {{ fenced("response", response) }}\n'
                                    "Check: {{ criterion.text }}\n"
                                    "End with VERDICT: PASS or VERDICT: FAIL.", encoding="utf-8")
    path = folder / "mine.yaml"
    path.write_text(f"name: mine\npointwise:\n  user: {template}\n  parser: {parser}\n"
                    "  answer_format: 'VERDICT: PASS or VERDICT: FAIL'\n", encoding="utf-8")
    return path


def test_a_user_profile_with_a_regex_parser(tmp_path: Path) -> None:
    path = _user_profile(tmp_path, "{type: regex, pattern: 'VERDICT:\\s*(?P<verdict>\\w+)', values: {PASS: true, FAIL: false}}")
    state = ServerState(queued_contents=["Looks right. VERDICT: PASS", "VERDICT: FAIL", "VERDICT: MAYBE", "VERDICT: FAIL"])
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile=str(path), cache=False, concurrency=1) as judge:
        one = Rubric(name="t", criteria=[{"id": "correct", "text": "The answer is correct."}])
        results = judge.score(ROWS, one) + judge.score(ROWS[:1], one)
    assert [r.scores["correct"] for r in results] == [1, 0, 0]  # the MAYBE was re-asked
    assert re.match(r"Q: <judgekit-prompt-([0-9a-f]{12})>\nWhat is 2\+2\?\n</judgekit-prompt-\1>\nA: <judgekit-response-\1>",
                    state.requests[0]["messages"][0]["content"])


def test_a_user_profile_with_a_json_path_parser(tmp_path: Path) -> None:
    path = _user_profile(tmp_path, "{type: json_path, path: '$.result.pass', reasoning_path: '$.why', values: {'true': true, 'false': false}}")
    state = ServerState(queued_contents=['{"why": "sum is right", "result": {"pass": true}}'])
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile=str(path), cache=False) as judge:
        r = judge.score(ROWS[:1], Rubric(name="t", criteria=[{"id": "correct", "text": "x"}]), explain=True)[0]
    assert r.scores == {"correct": 1} and r.explanations == {"correct": "sum is right"}


@pytest.mark.parametrize("parser, template, where", [
    ("{type: regex, pattern: 'VERDICT: (\\w+)', values: {PASS: true}}", "mine.j2", ":4, field 'pointwise.parser.pattern'"),
    ("{type: regex, pattern: '(?P<verdict>x)', values: {PASS: A}}", "mine.j2", "field 'pointwise'"),
    ("{type: regex, pattern: '(?P<verdict>x)', values: {PASS: true}}", "missing.j2", ":3, field 'pointwise.user'"),
])
def test_a_bad_user_profile_exits_2_naming_the_place(tmp_path: Path, parser: str, template: str, where: str) -> None:
    path = _user_profile(tmp_path, parser, template)
    proc = run_cli("score", str(write_jsonl(tmp_path / "s.jsonl", ROWS)), "--rubric", "rubrics/helpfulness.yaml",
                   "--judge", "openai:x", "--base-url", "http://127.0.0.1:9/v1", "--profile", str(path))
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr and where in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("score", str(write_jsonl(tmp_path / "s.jsonl", ROWS)), "--rubric", "rubrics/helpfulness.yaml",
                   "--profile", "nope")
    assert proc.returncode == 2 and "unknown profile 'nope'" in proc.stderr and "rm-r1" in proc.stderr


# ---- rubric-rm: the generator ----------------------------------------------------------------------


def test_rubric_rm_generates_once_per_prompt_with_its_own_model(tmp_path: Path) -> None:
    state = ServerState(script=_script())
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge-model", base_url=server.base_url, profile="rubric-rm", generator="openai:rubric-model",
            cache=False) as judge:
        results = judge.score(ROWS)  # no rubric given: only the generated one
    generations = [r for r in state.requests if "rubric-style instructions" in r["messages"][-1]["content"]]
    assert [r["model"] for r in generations] == ["rubric-model"]
    assert {r["model"] for r in state.requests if r not in generations} == {"judge-model"}
    kinds = [c["kind"] for c in results[0].generated_criteria or []]
    assert kinds == ["hard_rule", "principle", "principle"]
    # The generated hard rule ("gives the correct final answer") vetoes the wrong answer.
    assert results[0].reward == 1.0 and results[1].reward == 0.0


def test_rubric_rm_failed_generation_is_recorded_not_hidden() -> None:
    state = ServerState(script=Script(rubric=lambda text: "Judge it on general quality."))
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="rubric-rm", cache=False, max_reasks=1) as judge:
        r = judge.score(ROWS[:1], RUBRIC)[0]
    assert r.scores == {"correct": 1, "polite": 1}  # the given rubric is still judged
    assert "no numbered rubric items" in r.generated_criteria[0]["error"]  # type: ignore[index]


# ---- two-phase reasoning ---------------------------------------------------------------------------


@pytest.mark.parametrize("think", ["field", "tags"])
@pytest.mark.parametrize("profile", ["judgekit", "prometheus2"])
def test_two_phase_thinks_then_answers(think: str, profile: str) -> None:
    state = ServerState(script=_script(), think=think, think_answers=False)
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile=profile, cache=False, two_phase=True,
            think_tokens=300) as judge:
        r = judge.score(ROWS[1:], Rubric(name="t", criteria=[{"id": "correct", "text": "The answer is correct."}]),
                        explain=True)[0]
    assert r.scores == {"correct": 0}
    assert "step by step" in (r.thinking or {}).get("correct", "")
    first, second = state.requests
    assert first["max_tokens"] == 300 and not first.get("response_format")
    assert "step by step" in second["messages"][-2]["content"]  # the thinking is handed back, as plain text
    assert "<think>" not in second["messages"][-2]["content"]
    assert "Now give your final answer" in second["messages"][-1]["content"]
    assert bool(second.get("response_format")) == (profile == "judgekit")


def test_two_phase_uses_an_answer_that_follows_the_thinking() -> None:
    state = ServerState(script=_script(), think="tags", think_answers=True)
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="rm-r1", cache=False, two_phase=True) as judge:
        r = judge.score(ROWS[:1], RUBRIC)[0]
    assert r.scores == {"correct": 1, "polite": 1} and judge.stats.calls == 2 and judge.stats.reasks == 0


def test_a_reply_cut_off_inside_think_is_unscored_with_that_reason() -> None:
    state = ServerState(script=_script(), malformed="cut_off_thinking")
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="rm-r1", cache=False, max_reasks=0) as judge:
        r = judge.score(ROWS[:1], RUBRIC)[0]
    assert all("inside its <think> block" in reason for reason in r.unscored.values())


def test_a_native_profile_over_the_anthropic_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    state = ServerState(script=_script())
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "anthropic:judge", base_url=server.root_url, profile="prometheus2", cache=False) as judge:
        r = judge.score(ROWS[1:], RUBRIC, explain=True)[0]
    assert r.scores == {"correct": 0, "polite": 1}
    assert "tools" not in state.requests[0]
    assert "step by step" in (r.thinking or {}).get("correct", "")  # the reply's thinking block is kept


def test_rank_uses_the_judges_profile() -> None:
    from judgekit import rank_group

    state = ServerState(script=_script())
    with ScriptedJudgeServer(state) as server, judgekit.Judge(
            "openai:judge", base_url=server.base_url, profile="prometheus2", cache=False) as judge:
        out = judge.run(rank_group(judge, RUBRIC, "What is 2+2?", ["5", "4"], strategy="round_robin"))
    assert out.rewards[1] > out.rewards[0]
    assert all("###Task Description:" in r["messages"][-1]["content"] for r in state.requests)


def test_rank_with_rubric_rm_records_the_generated_criteria(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "g.jsonl", [{"id": "g", "prompt": "What is 2+2?", "responses": ["5", "4", "4!"]}])
    with ScriptedJudgeServer(ServerState(script=_script())) as server:
        proc = run_cli("rank", str(data), "--profile", "rubric-rm", "--judge", "openai:judge",
                       "--base-url", server.base_url, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert len(row["generated_criteria"]) == 3 and row["rewards"][0] == 0.0 and row["rewards"][1] == 1.0
