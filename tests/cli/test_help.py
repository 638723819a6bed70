"""`--help` as a user reads it (the real command line in a subprocess): texts as written, options in
panels, only the options a command accepts; and the options every command that reads rows shares:
the input as first argument and `--limit N`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgekit.testing import ScriptedJudgeServer
from tests.helpers import RUBRICS, SCORE_RUBRIC, read_jsonl, run_cli, write_jsonl

WIDE = {"COLUMNS": "400"}  # one line per option: a text is never cut by the terminal's width
PANELS = ("Input and output", "Judge", "Scoring", "Limits")


def help_of(*command: str) -> str:
    proc = run_cli(*command, "--help", env=WIDE)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize(("command", "texts"), [
    (("score",), ("(needs judgekit[ray])", "with [model] before judging", "[default: INPUT.scored.jsonl]",
                  "[default: the profile's]", "[default: $JUDGEKIT_CACHE_DIR or ~/.cache/judgekit]")),
    (("compare",), ("(needs judgekit[ray])", "with [model] before judging", "[default: INPUT.compared.jsonl]")),
    (("rubric", "refine"), ("[default: REPORT.json]", "with [model] before judging")),
    (("report",), ("[default: SOURCE with .html]",)),
])
def test_help_shows_bracketed_texts_as_written(command: tuple[str, ...], texts: tuple[str, ...]) -> None:
    shown = help_of(*command)
    for text in texts:
        assert text in shown, (command, text)


@pytest.mark.parametrize(("command", "panels"), [
    (("score",), (*PANELS, "Scale")), (("compare",), (*PANELS, "Scale")), (("rank",), PANELS), (("eval",), PANELS),
    (("serve",), PANELS), (("rubric", "generate"), ("Input and output", "Judge", "Scoring", "Limits")),
])
def test_help_groups_the_options_in_panels_in_one_order(command: tuple[str, ...], panels: tuple[str, ...]) -> None:
    shown = help_of(*command)
    at = [shown.find(f"─ {title} ─") for title in panels]
    assert -1 not in at, (command, dict(zip(panels, at)))
    assert at == sorted(at), command
    judge = shown[at[1]:]
    assert "--judge" in judge and "--concurrency" in shown[at[3]:] and "--concurrency" not in judge[:judge.find("─ Scoring ─")]


@pytest.mark.parametrize(("command", "not_taken"), [
    (("serve",), ("--normalize", "--length-debias", "round_robin")),  # need a prompt's group: one sample per request
    (("rubric", "generate"), ("--allow-code", "--min-coverage", "--data")),
    (("rubric", "refine"), ("--min-coverage", "--data")),
])
def test_help_lists_only_the_options_a_command_accepts(command: tuple[str, ...], not_taken: tuple[str, ...]) -> None:
    shown = help_of(*command)
    for option in not_taken:
        assert option not in shown, (command, option)


def test_serve_has_no_option_it_would_refuse() -> None:
    proc = run_cli("serve", "--rubric", str(RUBRICS / "helpfulness.yaml"), "--normalize", env=WIDE)
    assert proc.returncode == 2 and "No such option" in proc.stderr and "Traceback" not in proc.stderr


# ---- --limit ----------------------------------------------------------------------------------------


@pytest.fixture
def five_rows(judge_server: ScriptedJudgeServer, tmp_path: Path) -> tuple[list[str], Path]:
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"x{i}", "prompt": "q", "response": "yes"} for i in range(5)])
    (tmp_path / "r.yaml").write_text(SCORE_RUBRIC)
    out = tmp_path / "out.jsonl"
    return ["score", str(data), "--rubric", str(tmp_path / "r.yaml"), "--judge", "openai:m", "--base-url",
            judge_server.base_url, "-o", str(out), "--no-cache"], out


def test_score_limit_writes_the_first_n_rows(five_rows: tuple[list[str], Path]) -> None:
    args, out = five_rows
    proc = run_cli(*args, "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    assert [row["id"] for row in read_jsonl(out)] == ["x0", "x1"]
    assert "limit" not in json.loads(out.with_name(out.name + ".run.json").read_text())["settings"]


def test_a_limited_run_resumes_with_a_larger_limit_or_none(five_rows: tuple[list[str], Path]) -> None:
    args, out = five_rows
    assert run_cli(*args, "--limit", "2").returncode == 0
    more = run_cli(*args, "--limit", "4", "--resume")
    assert more.returncode == 0, more.stderr
    assert "4 rows (2 judged, 2 resumed)" in more.stderr
    fewer = run_cli(*args, "--limit", "1", "--resume")  # the output already holds more: nothing to do, nothing cut
    assert fewer.returncode == 0, fewer.stderr
    assert "4 rows (0 judged, 4 resumed)" in fewer.stderr
    rest = run_cli(*args, "--resume")
    assert rest.returncode == 0 and "5 rows (1 judged, 4 resumed)" in rest.stderr, rest.stderr
    assert [row["id"] for row in read_jsonl(out)] == [f"x{i}" for i in range(5)]


def test_compare_and_rank_take_the_same_limit(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "q", "response_a": "yes", "response_b": "no"}] * 3)
    groups = write_jsonl(tmp_path / "groups.jsonl", [{"prompt": "q", "responses": ["yes", "no"]}] * 3)
    for command, data in (("compare", pairs), ("rank", groups)):
        out = tmp_path / f"{command}.jsonl"
        proc = run_cli(command, str(data), "--rubric", str(RUBRICS / "helpfulness.yaml"), "--judge", "openai:m",
                       "--base-url", judge_server.base_url, "-o", str(out), "--limit", "1", "--no-cache")
        assert proc.returncode == 0, proc.stderr
        assert len(read_jsonl(out)) == 1


# ---- the input as first argument ---------------------------------------------------------------------


def test_generate_and_refine_take_the_input_as_first_argument(judge_server: ScriptedJudgeServer, tmp_path: Path) -> None:
    judge_server.state.script.generate = lambda body: {"criteria": [
        {"id": "answers", "text": "The response answers the question asked.", "kind": "principle", "weight": 1}]}
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"Question {i}?", "chosen": "yes", "rejected": "no"} for i in range(3)])
    judge = ["--judge", "openai:m", "--base-url", judge_server.base_url]
    generated = run_cli("rubric", "generate", str(data), "-o", str(tmp_path / "r.yaml"), "--limit", "2", *judge)
    assert generated.returncode == 0, generated.stderr
    refined = run_cli("rubric", "refine", str(data), "--rubric", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "r2.yaml"),
                      "--no-decompose", *judge)
    assert refined.returncode == 0, refined.stderr
    assert (tmp_path / "r2.yaml").is_file()
    # --data, the older spelling, still works; the same input twice under two names is refused
    old = run_cli("rubric", "generate", "--data", str(data), "-o", str(tmp_path / "r3.yaml"), *judge)
    assert old.returncode == 0, old.stderr
    both = run_cli("rubric", "generate", str(data), "--data", str(tmp_path / "other.jsonl"), "-o", str(tmp_path / "r4.yaml"), *judge)
    assert both.returncode == 2 and "--data" in both.stderr and "Traceback" not in both.stderr
    missing = run_cli("rubric", "generate", "-o", str(tmp_path / "r5.yaml"), *judge)
    assert missing.returncode == 2 and "data file" in missing.stderr and "Traceback" not in missing.stderr
