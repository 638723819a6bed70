"""`judgekit rubric generate` against the scripted judge over real HTTP: structured output, tolerant
parsing with re-asks, contrastive rejection sampling, per-prompt rubrics, and a free second run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from judgekit import Judge, load_rubric
from judgekit.authoring.generate import (
    GenerationFailed,
    criteria_problems,
    criteria_schema,
    echoes_template,
    generate_json,
    parse_criteria,
    similar_text,
)
from judgekit.data.rows import read_data
from judgekit.rubric.formats import row_rubric
from judgekit.testing import ScriptedJudgeServer
from judgekit.testing.server import is_verdict_request
from tests.helpers import ROOT, run_cli, write_jsonl


def all_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


def cli(server: ScriptedJudgeServer, *args: str) -> Any:
    return run_cli("rubric", "generate", *args, "--judge", "openai:scripted", "--base-url", server.base_url,
                   env={"OPENAI_API_KEY": "sk-test"})


def test_generate_one_rubric_for_the_dataset(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    judge_server.state.script.generate = lambda body: {"criteria": [
        {"id": "answers", "text": "The response answers the question asked.", "kind": "principle", "weight": 5},
        {"id": "Cites Sources!", "text": "The response cites a source.", "kind": "principle", "weight": 2},
        {"id": "under_100_words", "text": "The response has fewer than 100 words.", "kind": "hard_rule", "weight": 1},
        {"id": "answers", "text": "The response answers THE question asked!", "kind": "principle", "weight": 5},
    ]}
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"Question {i}?", "reference": f"Answer {i}."} for i in range(3)])
    out = tmp_path / "r.yaml"
    res = cli(judge_server, "--data", str(data), "-o", str(out), "--name", "qa")
    assert res.returncode == 0, res.stderr
    rubric = load_rubric(out)
    assert rubric.name == "qa"
    assert [(c.cid, c.kind, c.weight) for c in rubric.criteria] == [
        ("answers", "principle", 5.0), ("cites_sources", "principle", 2.0), ("under_100_words", "hard_rule", 1.0)]
    assert rubric.provenance["generated_by"].startswith("judgekit rubric generate")
    assert judge_server.state.count == 1
    body = judge_server.state.requests[0]
    assert not is_verdict_request(body)
    assert body["response_format"]["json_schema"]["schema"] == criteria_schema(8)
    assert "Question 2?" in all_text(body) and "Answer 1." in all_text(body)
    assert run_cli("rubric", "validate", str(out)).returncode == 0

    again = cli(judge_server, "--data", str(data), "-o", str(tmp_path / "r2.yaml"), "--name", "qa")
    assert again.returncode == 0, again.stderr
    assert judge_server.state.count == 1  # cached
    assert "judge calls: 0" in again.stderr


def test_generate_per_prompt_rubrics_are_scored_from_the_rows(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    def generate(body: dict[str, Any]) -> dict[str, Any]:
        city = re.search(r"capital of (\w+)", all_text(body)).group(1)  # type: ignore[union-attr]
        return {"criteria": [{"id": "names_capital", "text": f"The response names the capital of {city}.",
                              "kind": "principle", "weight": 3}]}

    judge_server.state.script.generate = generate
    judge_server.state.script.met = lambda cid, response: "Paris" in response
    data = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "fr", "prompt": "What is the capital of France?", "response": "Paris."},
        {"id": "de", "prompt": "What is the capital of Germany?", "response": "Munich."},
    ])
    out = tmp_path / "rows.jsonl"
    res = cli(judge_server, "--data", str(data), "-o", str(out), "--per-prompt")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["fr", "de"]
    assert row_rubric(rows[1]).criteria[0].text == "The response names the capital of Germany."  # type: ignore[union-attr]
    scored = run_cli("score", str(out), "--judge", "openai:scripted", "--base-url", judge_server.base_url,
                     "-o", str(tmp_path / "s.jsonl"), env={"OPENAI_API_KEY": "sk-test"})
    assert scored.returncode == 0, scored.stderr
    assert [json.loads(x)["reward"] for x in (tmp_path / "s.jsonl").read_text().splitlines()] == [1.0, 0.0]


def test_contrastive_generation_keeps_a_rubric_set_that_reproduces_the_preference(
    judge_server: ScriptedJudgeServer, tmp_path: Path
) -> None:
    """CRG keeps a whole rubric: a hard rule both responses satisfy ("answer in JSON") survives as part
    of a set that, as a whole, prefers the chosen response."""
    def generate(body: dict[str, Any]) -> dict[str, Any]:
        json_rule = {"id": "answers_in_json", "text": "The response answers in JSON as the user asked.", "kind": "hard_rule",
                     "weight": 1}
        if "Attempt 2" in all_text(body):
            return {"criteria": [json_rule, {"id": "gives_source", "text": "The response cites a source.", "kind": "principle",
                                             "weight": 2}]}
        return {"criteria": [json_rule, {"id": "polite", "text": "The response is polite.", "kind": "principle", "weight": 1}]}

    met = {"answers_in_json": "{", "polite": "please", "gives_source": "source"}
    judge_server.state.script.generate = generate
    judge_server.state.script.met = lambda cid, response: met[cid] in response.lower()
    data = write_jsonl(tmp_path / "pairs.jsonl", [{
        "prompt": "What is the capital of France? Answer in JSON.",
        "chosen": '{"capital": "Paris", "source": "an atlas"}', "rejected": '{"capital": "Lyon"}',
    }])
    out = tmp_path / "r.yaml"
    res = cli(judge_server, "--data", str(data), "-o", str(out), "--pairs", "--max-tries", "3")
    assert res.returncode == 0, res.stderr
    rubric = load_rubric(out)
    assert [(c.cid, c.kind, c.weight) for c in rubric.criteria] == [
        ("answers_in_json", "hard_rule", 1.0), ("gives_source", "principle", 2.0)]
    gen = [r for r in judge_server.state.requests if not is_verdict_request(r)]
    assert len(gen) == 2  # the first set (JSON rule + 'polite') gave both responses the same reward
    assert "did NOT give the preferred response the higher score" in all_text(gen[1])
    assert "The response is polite." in all_text(gen[1])
    assert "1 of 1 pairs got a rubric set" in res.stderr
    calls = judge_server.state.count

    again = cli(judge_server, "--data", str(data), "-o", str(tmp_path / "r2.yaml"), "--pairs", "--max-tries", "3")
    assert again.returncode == 0
    assert judge_server.state.count == calls  # nothing asked again


def test_contrastive_rejection_sampling_is_bounded(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    judge_server.state.script.generate = lambda body: {"criteria": [
        {"id": "vague", "text": f"The response is fine (try {all_text(body).count('did NOT')}).", "kind": "principle", "weight": 1}]}
    judge_server.state.script.met = lambda cid, response: True  # never separates the pair
    data = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "Q", "chosen": "good", "rejected": "bad"}])
    res = cli(judge_server, "--data", str(data), "-o", str(tmp_path / "r.yaml"), "--pairs", "--max-tries", "2")
    assert res.returncode == 1
    assert "no rubric was generated" in res.stderr
    assert len([r for r in judge_server.state.requests if not is_verdict_request(r)]) == 2


def test_tolerant_parsing_and_reask(judge_server: ScriptedJudgeServer) -> None:
    judge_server.state.queued_contents = [
        "Sure! Here are some ideas, no JSON though.",
        'Here:\n```json\n{"criteria": [{"id": "x", "text": "The response is short.", "kind": "principle", "weight": 1}]}\n```',
    ]
    messages = [{"role": "user", "content": "write criteria"}]
    with Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test") as judge:
        obj = judge.run(generate_json(judge.context(), messages, criteria_schema(), validate=criteria_problems))
        assert obj["criteria"][0]["text"] == "The response is short."
        assert judge.stats.calls == 2 and judge.stats.reasks == 1
        assert "could not be used" in judge_server.state.requests[1]["messages"][-1]["content"]
        again = judge.run(generate_json(judge.context(), messages, criteria_schema(), validate=criteria_problems))
        assert again == obj and judge.stats.calls == 2 and judge.stats.cache_hits == 1

    judge_server.state.queued_contents = ["nothing", "still nothing", "nope"]
    with Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", max_reasks=2) as judge, \
            pytest.raises(GenerationFailed, match="no usable answer after 3 ask"):
            judge.run(generate_json(judge.context(), [{"role": "user", "content": "other"}], criteria_schema(),
                                    validate=criteria_problems))


def test_parse_criteria_is_tolerant() -> None:
    taken = {"clear"}
    out = parse_criteria({"hard_rules": ["Answer in French.", {"text": "Use at most 3 bullet points."}],
                          "principles": [{"id": "Clear", "text": "Clear and direct.", "weight": "x"},
                                         {"text": "", "weight": 2}, {"text": "Answer in French!"}]}, taken=taken)
    assert [(c.cid, c.kind, c.weight) for c in out] == [
        ("answer_in_french", "hard_rule", 1.0), ("use_at_most_3_bullet", "hard_rule", 1.0),
        ("clear_2", "principle", 1.0)]
    assert parse_criteria([{"text": "x", "weight": 99}])[0].weight == 10.0
    assert criteria_problems({"nothing": 1}) and criteria_problems({"criteria": [{"text": " "}]})
    assert not criteria_problems({"criteria": ["Be brief."]})
    assert similar_text("The response is ACCURATE.", "the response is accurate") == 1.0


def test_bad_input(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "chosen": "x", "rejected": "y"}, {"prompt": "b"}])
    res = run_cli("rubric", "generate", "--data", str(data), "-o", str(tmp_path / "r.yaml"), "--pairs")
    assert res.returncode == 2 and "d.jsonl:2" in res.stderr and "'chosen'" in res.stderr
    res2 = run_cli("rubric", "generate", "--data", str(data), "-o", str(tmp_path / "r.yaml"), "--per-prompt")
    assert res2.returncode == 2 and "--output" in res2.stderr
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"prompt": "a"}\n{oops\n')
    res3 = run_cli("rubric", "generate", "--data", str(broken), "-o", str(tmp_path / "r.yaml"))
    assert res3.returncode == 2 and "b.jsonl:2" in res3.stderr
    with pytest.raises(Exception, match="data file not found"):
        read_data(tmp_path / "missing.jsonl")


def test_contrastive_verification_by_pairwise_verdicts_in_both_orders(
    judge_server: ScriptedJudgeServer, tmp_path: Path
) -> None:
    """--verify pairwise: the set's weighted margin must favour the chosen response shown first and
    shown second; a set whose position-biased criterion outweighs the rest fails."""
    def generate(body: dict[str, Any]) -> dict[str, Any]:
        bias = 1 if "Attempt 2" in all_text(body) else 3
        return {"criteria": [{"id": "names_paris", "text": "Names Paris.", "kind": "principle", "weight": 2},
                             {"id": "first_wins", "text": "Is shown first.", "kind": "principle", "weight": bias}]}

    def prefer(cid: str, a: str, b: str) -> str:
        if cid == "first_wins":
            return "A"  # position bias
        return "A" if "Paris" in a else "B" if "Paris" in b else "tie"

    judge_server.state.script.generate = generate
    judge_server.state.script.prefer = prefer
    data = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}])
    out = tmp_path / "r.yaml"
    res = cli(judge_server, "--data", str(data), "-o", str(out), "--pairs", "--verify", "pairwise", "--max-tries", "2")
    assert res.returncode == 0, res.stderr
    assert {c.cid: c.weight for c in load_rubric(out).criteria} == {"names_paris": 2.0, "first_wins": 1.0}
    assert len([r for r in judge_server.state.requests if not is_verdict_request(r)]) == 2


def template_examples() -> list[dict[str, str]]:
    """The example criterion of every answer format in the generation prompts."""
    examples = []
    for path in (ROOT / "prompts").glob("*.j2"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith('{"criteria": [{'):
                examples.append({k: v for k, v in re.findall(r'"(id|text|category)": "([^"]*)"', line)})
    return examples


def test_every_template_example_counts_as_an_echo() -> None:
    examples = template_examples()
    assert len(examples) >= 4
    for example in examples:
        assert echoes_template({**example, "id": example.get("id", "real_id")}), example
        if "id" in example:
            assert echoes_template({"id": example["id"], "text": "A real criterion."}), example
    assert not echoes_template({"id": "cites_sources", "text": "The response cites... at least one source."})
    mixed = {"criteria": [{"id": "cites", "text": "The response cites a source."},
                          {"id": "short_snake_case_id", "text": "...", "kind": "principle", "weight": 3}]}
    assert "criterion 2 repeats the example" in criteria_problems(mixed)[0]
    assert [c.cid for c in parse_criteria(mixed)] == ["cites"]


def test_generate_reasks_when_the_model_echoes_the_template(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    def generate(body: dict[str, Any]) -> dict[str, Any]:
        if "could not be used" not in all_text(body):
            return {"criteria": [{"id": "short_snake_case_id", "text": "...", "kind": "principle", "weight": 3}]}
        return {"criteria": [{"id": "names_capital", "text": "The response names the capital city.",
                              "kind": "principle", "weight": 5}]}

    judge_server.state.script.generate = generate
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "Capital of Australia?"}])
    out = tmp_path / "r.yaml"
    res = cli(judge_server, "--data", str(data), "-o", str(out))
    assert res.returncode == 0, res.stderr
    rubric = load_rubric(out)
    assert [(c.cid, c.text) for c in rubric.criteria] == [("names_capital", "The response names the capital city.")]
    asks = [r for r in judge_server.state.requests if not is_verdict_request(r)]
    assert len(asks) == 2
    assert "repeats the example of the answer format" in asks[1]["messages"][-1]["content"]
