"""Rubric files (docs/rubrics-and-formats.md): errors that name the place, importers, checks."""

import json
from pathlib import Path

import pytest

from judgekit.errors import InputError
from judgekit.rubric.checks import run_check
from judgekit.rubric.formats import row_rubric
from judgekit.rubric.models import load_rubric, rubric_from_data
from tests.helpers import RUBRICS, SHARED_DATA, run_cli


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", sorted(RUBRICS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_rubrics_load(path):
    r = load_rubric(path)
    assert r.criteria and len(set(r.ids)) == len(r.ids)


def test_ids_by_position_and_defaults(tmp_path):
    r = load_rubric(write(tmp_path, "name: x\ncriteria:\n  - text: one\n  - id: two\n    text: two\n    weight: -2\n"))
    assert r.ids == ["c1", "two"]
    assert r.criteria[0].kind == "principle" and r.criteria[0].weight == 1
    assert r.criteria[1].weight == -2


@pytest.mark.parametrize(
    "text, line, criterion, field, words",
    [
        ("name: x\ncriteria:\n  - text: a\n    colour: red\n", 4, "c1", "colour", "unknown key"),
        ("name: x\ncriteria:\n  - id: a\n    text: a\n  - id: a\n    text: b\n", 5, "a", "id", "duplicate"),
        ("name: x\ncriteria: []\n", 2, None, "criteria", "at least one"),
        ("name: x\ncriteria:\n  - id: s\n    kind: check\n    check: {type: max_bananas, value: 3}\n", 5, "s", "check.type", "unknown check type"),
        ("name: x\ncriteria:\n  - id: k\n    text: a\n    kind: opinion\n", 5, "k", "kind", "unknown kind"),
        ("name: x\ncriteria:\n  - id: s\n    kind: check\n", 3, "s", None, "needs a 'check'"),
        ("criteria:\n  - text: a\n", 1, None, "name", "missing"),
        ("name: x\ncriteria:\n  - id: Bad-Id\n    text: a\n", 3, "Bad-Id", "id", "[a-z0-9_]+"),
    ],
)
def test_errors_name_file_line_criterion_field(tmp_path, text, line, criterion, field, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_rubric(path)
    err = info.value
    assert err.file == str(path)
    if line is not None:
        assert err.line == line
    if criterion is not None:
        assert err.criterion == criterion
    if field is not None:
        assert err.field == field
    assert words in err.message


def test_broken_yaml_names_line(tmp_path):
    path = write(tmp_path, "name: x\ncriteria:\n  - text: [unclosed\n")
    with pytest.raises(InputError) as info:
        load_rubric(path)
    assert "YAML" in info.value.message and info.value.line is not None


def test_missing_file():
    with pytest.raises(InputError, match="not found"):
        load_rubric("/nonexistent/rubric.yaml")


def test_checks():
    r = rubric_from_data({"name": "c", "criteria": [
        {"id": "re", "kind": "check", "check": {"type": "regex", "value": r"\d+"}},
        {"id": "has", "kind": "check", "check": {"type": "contains", "value": "Paris", "ignore_case": True}},
        {"id": "nothas", "kind": "check", "check": {"type": "not_contains", "value": "sorry"}},
        {"id": "maxw", "kind": "check", "check": {"type": "max_words", "value": 3}},
        {"id": "minw", "kind": "check", "check": {"type": "min_words", "value": 3}},
        {"id": "maxc", "kind": "check", "check": {"type": "max_chars", "value": 10}},
        {"id": "js", "kind": "check", "check": {"type": "json_valid"}},
        {"id": "ref", "kind": "check", "check": {"type": "equals_reference"}},
        {"id": "py", "kind": "check", "check": {"python": "tests.check_funcs:mentions_answer"}},
    ]})
    c = {x.cid: x for x in r.criteria}
    assert run_check(c["re"], "it is 42").score == 1
    assert run_check(c["has"], "paris is big").score == 1
    assert run_check(c["nothas"], "sorry, no").score == 0
    assert run_check(c["maxw"], "one two three four").score == 0
    assert run_check(c["minw"], "one two three").score == 1
    assert run_check(c["maxc"], "01234567890").score == 0
    assert run_check(c["js"], '```json\n{"a": 1}\n```').score == 1
    assert run_check(c["js"], "{a: 1}").score == 0
    assert run_check(c["ref"], " Paris ", reference="Paris").score == 1
    assert run_check(c["ref"], "Paris").score is None  # no reference: unscored, with a reason
    assert "allow-code" in run_check(c["py"], "answer").reason
    assert run_check(c["py"], "the answer", allow_code=True).score == 1
    assert run_check(c["py"], "nothing", allow_code=True).score == 0


def test_row_rubric_formats():
    own = row_rubric({"rubric": [{"id": "a", "text": "A"}]})
    assert own is not None and own.ids == ["a"]
    hb = row_rubric({"rubrics": [{"criterion": "Mentions dosage", "points": 5, "tags": ["axis:accuracy"]},
                                 {"criterion": "Recommends a dangerous dose", "points": -8, "tags": []}]})
    assert [c.weight for c in hb.criteria] == [5, -8] and hb.criteria[0].tags == ("axis:accuracy",)
    rar = row_rubric({"rubric": [{"title": "Essential Criteria", "description": "States X", "weight": 5},
                                 {"title": "Pitfall Criteria", "description": "Claims Y", "weight": -1}]})
    assert [c.text for c in rar.criteria] == ["States X", "Claims Y"] and rar.criteria[1].weight == -1


def test_a_row_rubric_in_a_json_string_is_read_alike_by_score_and_the_trainer_rewards(tmp_path, judge_server):
    """A dataset column often holds the rubric as a JSON string: the one reader of a row's rubric decodes it,
    for a file's rows as for a trainer's."""
    criteria = json.dumps([{"id": "says_paris", "text": "The response names Paris."}])
    row = {"id": 1, "prompt": "Capital of France?", "response": "Paris.", "rubric": criteria}
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(row) + "\n")
    proc = run_cli("score", str(data), "--judge", "openai:j", "--base-url", judge_server.base_url, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scores"] == {"says_paris": 1}
    from judgekit.rl.rewards import RewardScorer

    key, found = RewardScorer(None, None).rubric_for({"rubric": criteria})  # type: ignore[arg-type]
    assert key and found.ids == ["says_paris"]


def test_biggen_bench_rows_import():
    path = SHARED_DATA / "biggen-bench" / "biggen-bench.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) > 700
    for line in lines:
        r = row_rubric(json.loads(line))
        assert r is not None and r.ids == ["score_rubric"]
        scale = r.criteria[0].scale
        assert scale is not None and (scale.min, scale.max) == (1, 5) and sorted(scale.labels) == [1, 2, 3, 4, 5]


def test_row_rubric_error_names_line():
    with pytest.raises(InputError) as info:
        row_rubric({"rubric": {"name": "x", "criteria": [{"text": "a", "bogus": 1}]}}, file="f.jsonl", line=7)
    assert info.value.file == "f.jsonl" and info.value.line == 7 and "rubric" in info.value.field


def test_show_and_validate_print_texts_literally(tmp_path):
    """Criterion texts are data, not console markup: `[check]`, `[/]` and `[bold]` print as written."""
    p = tmp_path / "[bold]r.yaml"
    p.write_text(
        "name: '[red]markup[/red]'\n"
        "description: 'Closes with [/] too.'\n"
        "criteria:\n"
        "  - id: brackets\n"
        "    text: 'Uses [/] and [bold]x[/bold] literally.'\n"
        "    tags: ['[i]']\n"
        "  - id: short\n"
        "    kind: check\n"
        "    check: {type: max_words, value: 20}\n"
    )
    res = run_cli("rubric", "show", str(p), env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    for literal in ("[check] max_words 20", "Uses [/] and [bold]x[/bold] literally.", "[i]", "[red]markup[/red]",
                    "Closes with [/] too."):
        assert literal in res.stdout, literal
    ok = run_cli("rubric", "validate", str(p))
    assert ok.returncode == 0 and "[bold]r.yaml" in ok.stderr and "[red]markup[/red]" in ok.stderr


# A weight that is not a finite number, or weights whose total is not, would make every reward nan;
# weights all 0 would make every reward 0/0. Each is the rubric's error, before any judge call.
_TWO = "name: x\ncriteria:\n  - id: one\n    text: a\n    weight: {}\n  - id: two\n    text: b\n    weight: {}\n"
BAD_WEIGHTS = {
    "nan": (_TWO.format(1, ".nan"), 8, "two", "finite number"),
    "inf": (_TWO.format(1, ".inf"), 8, "two", "finite number"),
    "minus inf": (_TWO.format("-.inf", 1), 5, "one", "finite number"),
    "1e400": (_TWO.format("1e400", 1), 5, "one", "finite number"),
    "sum overflows": (_TWO.format("1e308", "-1.0e+308"), 8, "two", "overflows"),
    "all zero": (_TWO.format(0, 0), 2, None, "no criterion has a non-zero weight"),
}


@pytest.mark.parametrize("case", BAD_WEIGHTS, ids=str)
def test_weights_are_finite_and_not_all_zero(tmp_path, case):
    text, line, criterion, words = BAD_WEIGHTS[case]
    with pytest.raises(InputError) as info:
        load_rubric(write(tmp_path, text))
    err = info.value
    assert (err.line, err.criterion, err.field) == (line, criterion, "weight") and words in err.message


def test_rubric_validate_and_score_refuse_bad_weights_before_any_call(tmp_path, judge_server):
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": 1, "prompt": "q", "response": "r"}\n')
    for case, (text, line, _, words) in BAD_WEIGHTS.items():
        path = write(tmp_path, text)
        checked = run_cli("rubric", "validate", str(path))
        scored = run_cli("score", str(data), "--rubric", str(path), "--judge", "openai:m",
                         "--base-url", judge_server.base_url, "-o", str(tmp_path / "out.jsonl"))
        for proc in (checked, scored):
            assert proc.returncode == 2, (case, proc.stderr)
            assert f"{path}:{line}" in proc.stderr and "field 'weight'" in proc.stderr and words in proc.stderr
            assert "Traceback" not in proc.stderr
    assert judge_server.state.requests == [] and not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("rubric", [
    [{"text": "a", "weight": float("nan")}],
    [{"text": "a", "weight": 1e308}, {"text": "b", "weight": 1e308}],
    {"name": "z", "criteria": [{"text": "a", "weight": 0}]},
], ids=["nan", "sum overflows", "all zero"])
def test_a_rows_bad_weights_are_that_rows_error(rubric):
    with pytest.raises(InputError) as info:
        row_rubric({"rubric": rubric}, file="in.jsonl", line=3)
    assert (info.value.file, info.value.line, info.value.field) == ("in.jsonl", 3, "rubric.weight")


def test_healthbench_points_must_be_finite():
    with pytest.raises(InputError) as info:
        row_rubric({"rubrics": [{"criterion": "a", "points": float("inf")}]}, file="hb.jsonl", line=7)
    assert (info.value.line, info.value.criterion, info.value.field) == (7, "c1", "rubric.weight")
