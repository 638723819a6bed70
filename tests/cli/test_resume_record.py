"""--resume continues only an output written under the same rubric, judge, profile and settings: the
record beside the output (OUT.run.json) says what wrote it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgekit.testing import ScriptedJudgeServer
from tests.helpers import SCORE_RUBRIC, read_jsonl, run_cli, write_jsonl

OTHER_RUBRIC = "name: t\ncriteria:\n  - id: c\n    text: Says no.\n"


@pytest.fixture
def stopped(judge_server: ScriptedJudgeServer, tmp_path: Path) -> tuple[list[str], Path]:
    """A score run stopped at --max-calls under SCORE_RUBRIC: its arguments (without the limit) and output."""
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "q", "response": "yes"} for i in range(10)])
    (tmp_path / "a.yaml").write_text(SCORE_RUBRIC)
    out = tmp_path / "out.jsonl"
    args = ["score", str(data), "--rubric", str(tmp_path / "a.yaml"), "--judge", "openai:m", "--base-url",
            judge_server.base_url, "-o", str(out), "--no-cache", "--concurrency", "1"]
    first = run_cli(*args, "--max-calls", "6")
    assert first.returncode == 3, first.stderr
    assert len(read_jsonl(out)) == 3
    return args, out


def _replace(args: list[str], flag: str, value: str) -> list[str]:
    at = args.index(flag)
    return [*args[:at + 1], value, *args[at + 2:]]


def _refused(proc_args: list[str], out: Path, named: str) -> None:
    before = out.read_bytes()
    proc = run_cli(*proc_args, "--resume")
    assert proc.returncode == 2, proc.stderr
    assert f"the {named} changed since this output was written" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_bytes() == before  # nothing of the other run was added


def test_resume_under_another_rubric_is_exit_2_naming_the_rubric(stopped, tmp_path):
    args, out = stopped
    (tmp_path / "b.yaml").write_text(OTHER_RUBRIC)
    _refused(_replace(args, "--rubric", str(tmp_path / "b.yaml")), out, "rubric")


def test_resume_with_another_judge_is_exit_2_naming_the_judge(stopped):
    args, out = stopped
    _refused(_replace(args, "--judge", "openai:other"), out, "judge")


def test_resume_with_another_setting_names_it(stopped):
    args, out = stopped
    _refused([*args, "--explain"], out, "settings (explain)")
    _refused([*args, "--samples", "3", "--temperature", "0.7"], out, "settings (samples, temperature)")


def test_resume_with_the_same_settings_continues(stopped):
    args, out = stopped
    done = run_cli(*args, "--concurrency", "4", "--resume")  # how fast a run goes is not what it writes
    assert done.returncode == 0, done.stderr
    assert "3 resumed" in done.stderr
    assert [r["id"] for r in read_jsonl(out)] == list(range(10))
    assert {tuple(r["scores"]) for r in read_jsonl(out)} == {("a", "b")}


def test_an_output_without_its_record_is_not_resumed(stopped):
    args, out = stopped
    Path(f"{out}.run.json").unlink()
    proc = run_cli(*args, "--resume")
    assert proc.returncode == 2 and "no record of the rubric and judge" in proc.stderr, proc.stderr


def test_the_record_holds_no_credentials(judge_server, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "q", "response": "yes"}])
    (tmp_path / "a.yaml").write_text(SCORE_RUBRIC)
    url = judge_server.base_url.replace("http://", "http://admin:hunter2-secret@")
    proc = run_cli("score", str(data), "--rubric", str(tmp_path / "a.yaml"), "--judge", "openai:m", "--base-url", url,
                   "-o", str(tmp_path / "out.jsonl"), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    record = (tmp_path / "out.jsonl.run.json").read_text()
    assert "hunter2" not in record and "admin" not in record
    assert json.loads(record)["judge"]["base_url"] == [judge_server.base_url]


def test_rank_resume_with_another_strategy_names_it(judge_server, tmp_path):
    rows = [{"id": i, "prompt": "q", "responses": ["yes", "no"]} for i in range(6)]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    (tmp_path / "a.yaml").write_text(SCORE_RUBRIC)
    out = tmp_path / "out.jsonl"
    args = ["rank", str(data), "--rubric", str(tmp_path / "a.yaml"), "--judge", "openai:m", "--base-url",
            judge_server.base_url, "-o", str(out), "--no-cache", "--concurrency", "1"]
    assert run_cli(*args, "--max-calls", "8").returncode == 3
    _refused([*args, "--strategy", "round_robin"], out, "settings (strategy)")


def test_compare_resume_with_another_rubric_is_refused(judge_server, tmp_path):
    rows = [{"id": i, "prompt": "q", "response_a": "yes", "response_b": "no"} for i in range(6)]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    (tmp_path / "a.yaml").write_text(SCORE_RUBRIC)
    (tmp_path / "b.yaml").write_text(OTHER_RUBRIC)
    out = tmp_path / "out.jsonl"
    args = ["compare", str(data), "--rubric", str(tmp_path / "a.yaml"), "--judge", "openai:m", "--base-url",
            judge_server.base_url, "-o", str(out), "--no-cache", "--concurrency", "1"]
    assert run_cli(*args, "--max-calls", "8").returncode == 3
    _refused(_replace(args, "--rubric", str(tmp_path / "b.yaml")), out, "rubric")


def test_ray_resume_under_another_rubric_is_refused_before_any_call(judge_server, tmp_path):
    pytest.importorskip("ray")
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "q", "response": "yes"} for i in range(4)])
    (tmp_path / "a.yaml").write_text(SCORE_RUBRIC)
    (tmp_path / "b.yaml").write_text(OTHER_RUBRIC)
    out = tmp_path / "out.jsonl"
    args = ["score", str(data), "--judge", "openai:m", "--base-url", judge_server.base_url, "-o", str(out), "--no-cache"]
    assert run_cli(*args, "--rubric", str(tmp_path / "a.yaml")).returncode == 0
    # An interrupted --ray run of the same file: its layout and first shard written.
    parts = tmp_path / "out.jsonl.parts"
    parts.mkdir()
    (parts / "layout.json").write_text(json.dumps({"rows": 4, "shard_rows": 2}))
    write_jsonl(parts / "part-000000.jsonl", read_jsonl(out)[:2])
    calls = judge_server.state.count
    proc = run_cli(*args, "--rubric", str(tmp_path / "b.yaml"), "--ray", "--resume")
    assert proc.returncode == 2 and "the rubric changed since this output was written" in proc.stderr, proc.stderr
    assert judge_server.state.count == calls and (parts / "part-000000.jsonl").exists()


def test_resume_with_another_field_mapping_is_refused(stopped):
    args, out = stopped
    _refused([*args, "--field", "response=prompt"], out, "field mapping (--field)")


def test_resume_of_another_input_with_the_same_ids_is_refused(stopped, tmp_path):
    args, out = stopped
    write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "q", "response": "no"} for i in range(10)])
    _refused(args, out, "input's content")


@pytest.mark.parametrize("how", ["JUDGEKIT_LOCAL_MODEL", "local:PATH"])
def test_resume_with_another_embedded_model_file_is_refused(tmp_path, how):
    """Two model files of the same name and size but other weights: the record holds the model's content."""
    pytest.importorskip("llama_cpp")
    for folder, fill in (("a", b"0"), ("b", b"1")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.gguf").write_bytes(b"GGUF" + fill * 4000)  # not loadable: each row is unscored
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "q", "response": "yes"}])
    (tmp_path / "r.yaml").write_text(SCORE_RUBRIC)
    out = tmp_path / "out.jsonl"
    args = ["score", str(data), "--rubric", str(tmp_path / "r.yaml"), "-o", str(out), "--no-cache"]
    if how == "JUDGEKIT_LOCAL_MODEL":
        first = run_cli(*args, "--judge", "local", env={how: str(tmp_path / "a" / "m.gguf")})
        again = ["--judge", "local"], {how: str(tmp_path / "b" / "m.gguf")}
    else:
        first = run_cli(*args, "--judge", f"local:{tmp_path / 'a' / 'm.gguf'}")
        (tmp_path / "a" / "m.gguf").write_bytes((tmp_path / "b" / "m.gguf").read_bytes())  # new weights, same file
        again = ["--judge", f"local:{tmp_path / 'a' / 'm.gguf'}"], {}
    assert len(read_jsonl(out)) == 1, first.stderr
    proc = run_cli(*args, *again[0], "--resume", env=again[1])
    assert proc.returncode == 2 and "the judge changed since this output was written" in proc.stderr, proc.stderr
