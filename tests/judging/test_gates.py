"""Gates (docs/rubrics-and-formats.md): a check with `gate: true` vetoes the reward when UNMET, as a
hard rule does, pointwise, in a pair and in a group; and Rubrics-as-Rewards' categorical weights."""

from pathlib import Path

import pytest
import yaml

from judgekit.errors import InputError
from judgekit.judge import rank_group
from judgekit.rubric.formats import row_rubric
from judgekit.rubric.models import WEIGHT_CATEGORIES, Rubric, load_rubric, rubric_from_data
from tests.helpers import read_jsonl, run_cli, scripted_judge, write_jsonl

GATED = """name: gated
criteria:
  - id: helpful
    text: The response helps.
    weight: 4
  - id: json
    kind: check
    check: {type: json_valid}
    gate: true
"""


def load_rubric_text(text: str) -> Rubric:
    return rubric_from_data(yaml.safe_load(text))


def test_a_failed_json_gate_gives_zero_through_the_cli(tmp_path: Path, judge_server) -> None:
    rubric = tmp_path / "gated.yaml"
    rubric.write_text(GATED)
    ungated = tmp_path / "plain.yaml"
    ungated.write_text(GATED.replace("    gate: true\n", ""))
    rows = write_jsonl(tmp_path / "in.jsonl", [{"id": "bad", "prompt": "q", "response": "not json"},
                                               {"id": "good", "prompt": "q", "response": '{"a": 1}'}])
    for path, expected in ((rubric, [0.0, 1.0]), (ungated, [0.8, 1.0])):
        out = tmp_path / f"{path.stem}.out.jsonl"
        done = run_cli("score", str(rows), "--rubric", str(path), "--judge", "openai:scripted",
                       "--base-url", judge_server.base_url, "-o", str(out), "--no-cache")
        assert done.returncode == 0, done.stderr
        got = read_jsonl(out)
        assert [r["reward"] for r in got] == pytest.approx(expected)
        assert got[0]["scores"] == {"helpful": 1, "json": 0}


def test_a_gate_unscored_gives_no_reward(judge_server) -> None:
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": "helpful", "text": "Helps."},
        {"id": "code", "kind": "check", "check": {"python": "tests.check_funcs:mentions_answer"}, "gate": True}]})
    with scripted_judge(judge_server) as judge:  # no --allow-code: the gate cannot be decided
        [res] = judge.score([{"prompt": "q", "response": "r"}], rubric)
    assert res.reward is None and res.scores["code"] is None


def test_in_a_pair_the_side_failing_a_gate_loses_outright(judge_server) -> None:
    judge_server.state.script.prefer = lambda cid, a, b: "A"  # the judge prefers whatever is shown first
    rubric = load_rubric_text(GATED)
    with scripted_judge(judge_server) as judge:
        [res] = judge.compare([{"prompt": "q", "response_a": "not json", "response_b": '{"a": 1}'}], rubric)
    assert res.winner == "B" and res.margin == -1.0


def test_in_a_group_the_gate_vetoes_under_every_strategy(judge_server) -> None:
    rubric = load_rubric_text(GATED)
    with scripted_judge(judge_server) as judge:
        for strategy in ("pointwise", "anchor", "round_robin"):
            outcome = judge.run(rank_group(judge, rubric, "q", ['{"a": 1}', "not json"], strategy=strategy))
            good, bad = outcome.rewards
            assert bad is not None and good is not None and bad < good, strategy
            if strategy == "pointwise":
                assert bad == 0.0


def test_gate_on_a_principle_is_an_error_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: t\ncriteria:\n  - id: a\n    text: A.\n  - id: b\n    text: B.\n    gate: true\n")
    with pytest.raises(InputError) as err:
        load_rubric(path)
    assert (err.value.line, err.value.criterion, err.value.field) == (7, "b", "gate")
    assert "'gate' is only allowed with kind 'check'" in err.value.message
    # a hard rule is a gate already: saying so again is allowed
    path.write_text("name: t\ncriteria:\n  - id: a\n    text: A.\n    kind: hard_rule\n    gate: true\n")
    assert load_rubric(path).criteria[0].is_gate


def test_rar_categories_map_to_documented_numbers(tmp_path: Path) -> None:
    rubric = rubric_from_data({"name": "t", "criteria": [
        {"id": name.lower(), "text": name, "weight": name} for name in ("Essential", "important", "OPTIONAL", "Pitfall")]})
    assert [c.weight for c in rubric.criteria] == [5.0, 3.5, 1.5, -1.5] == list(WEIGHT_CATEGORIES.values())
    imported = row_rubric({"rubric": [{"title": "Essential Criteria", "description": "Names the drug.", "weight": "Essential"},
                                      {"title": "Pitfall Criteria", "description": "Recommends a dose.", "weight": "Pitfall"}]})
    assert imported is not None and [c.weight for c in imported.criteria] == [5.0, -1.5]


def test_an_unknown_weight_category_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: t\ncriteria:\n  - id: a\n    text: A.\n    weight: crucial\n")
    with pytest.raises(InputError) as err:
        load_rubric(path)
    assert (err.value.line, err.value.criterion, err.value.field) == (5, "a", "weight")
    assert "essential, important, optional, pitfall" in err.value.message
    with pytest.raises(InputError) as err:
        row_rubric({"rubric": [{"title": "x", "description": "Names the drug.", "weight": "Vital"}]}, file="d.jsonl", line=3)
    assert (err.value.file, err.value.line, err.value.field) == ("d.jsonl", 3, "rubric.weight")
