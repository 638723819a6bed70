"""Files that cannot be read or written: exit 2 and one line naming the file (and line and field where
there is one), never a traceback or "the run failed"."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROW = {"prompt": "q", "response": "r"}
ROWS = "".join(json.dumps({"id": i, **ROW}) + "\n" for i in range(200)).encode()
NO_SERVER = ["--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--no-cache"]


def _gzipped() -> bytes:
    return gzip.compress(ROWS)


INPUTS: dict[str, tuple[str, bytes, str]] = {  # name: (file name, bytes, what the message says)
    "truncated_gzip": ("in.jsonl.gz", _gzipped()[: len(_gzipped()) // 2], "the gzip file ends before its data does"),
    "not_gzip": ("in.jsonl.gz", ROWS, "not a gzip file"),
    "corrupt_gzip": ("in.jsonl.gz", _gzipped()[:20] + b"x" * 40 + _gzipped()[60:], "a corrupt gzip file"),
    "id_of_5000_digits": ("in.jsonl", b'{"id": ' + b"9" * 5000 + b', "prompt": "q", "response": "r"}\n',
                          "in.jsonl:1: a number of more than"),
    "row_nested_5000_deep": ("in.jsonl", b'{"id": 1, "prompt": "q", "response": "r", "rubric": ' + b"[" * 5000 + b"]" * 5000
                             + b"}\n", "in.jsonl:1: JSON nested too deeply"),
}


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "the run failed" not in stderr and "aborted" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize("case", list(INPUTS))
def test_an_unreadable_input_is_exit_2_naming_it(tmp_path, rubric, case):
    name, data, says = INPUTS[case]
    (tmp_path / name).write_bytes(data)
    proc = run_cli("score", str(tmp_path / name), "--rubric", str(rubric), *NO_SERVER, "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert name in line and says in line, line


def test_a_rubric_nested_5000_deep_is_exit_2_naming_it(tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(ROWS)
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: t\ncriteria: " + "[" * 5000 + "]" * 5000 + "\n")
    for args in (["score", str(data), "--rubric", str(deep), *NO_SERVER], ["rubric", "validate", str(deep)]):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stderr
        line = _one_error_line(proc.stderr)
        assert "deep.yaml" in line and "nested too deeply" in line


def test_a_rubric_that_is_not_utf8_is_exit_2_naming_its_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_bytes(b"name: t\ncriteria:\n  - id: a\n    text: caf\xe9\n")
    proc = run_cli("rubric", "validate", str(bad))
    assert proc.returncode == 2 and "r.yaml:4" in _one_error_line(proc.stderr) and "not UTF-8" in proc.stderr


@pytest.mark.parametrize("row, field", [
    ({"id": 1, "scores": {"a": 1}, "unscored": ["a"]}, "unscored"),
    ({"id": 1, "scores": {"a": [1]}}, "scores.a"),
    ({"id": 1, "scores": {"a": 1}, "not_applicable": "a"}, "not_applicable"),
    ({"id": 1, "preferences": {"a": 1}, "winner": "A", "inconsistent": 3}, "inconsistent"),
])
def test_a_malformed_run_file_given_to_report_is_exit_2_naming_line_and_field(tmp_path, row, field):
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"id": 0, "scores" if "scores" in row else "preferences": {"a": 1}}) + "\n" + json.dumps(row) + "\n")
    proc = run_cli("report", str(run), "-o", str(tmp_path / "r.html"))
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "run.jsonl:2" in line and f"field '{field}'" in line, line


def test_a_malformed_eval_report_is_exit_2_naming_it(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"overall": {"n": 2}, "subsets": ["natural"]}))
    proc = run_cli("report", str(report))
    assert proc.returncode == 2 and "report.json" in _one_error_line(proc.stderr)


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: one without write permission, or (as root, whom permissions
    do not stop) a folder of a read-only file system."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            (candidate / "probe").touch()
        except OSError:
            return candidate
        (candidate / "probe").unlink()
    pytest.skip("no folder here that this user cannot write")


@pytest.mark.parametrize("command", ["score", "report"])
def test_a_read_only_output_folder_is_exit_2_naming_the_path(tmp_path, rubric, command):
    data = tmp_path / "in.jsonl"
    data.write_bytes(ROWS.splitlines(keepends=True)[0])
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"id": 0, "scores": {"a": 1}}) + "\n")
    target = _read_only_folder(tmp_path) / "out.jsonl"
    args = ["score", str(data), "--rubric", str(rubric), *NO_SERVER] if command == "score" else ["report", str(run)]
    proc = run_cli(*args, "-o", str(target))
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert str(target) in line and "cannot be written" in line and "write elsewhere" in line, line


@pytest.mark.parametrize("command", ["score", "rank", "report"])
def test_an_output_path_that_is_a_folder_is_exit_2_naming_it(tmp_path, rubric, command):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": 1, "prompt": "q", "response": "r", "responses": ["a", "b"]}) + "\n")
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"id": 0, "scores": {"a": 1}}) + "\n")
    folder = tmp_path / "out"
    folder.mkdir()
    args = [command, str(data), "--rubric", str(rubric), *NO_SERVER] if command != "report" else ["report", str(run)]
    proc = run_cli(*args, "-o", str(folder))
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert str(folder) in line and "is a folder, not a file" in line, line


def test_an_output_under_a_file_is_exit_2_naming_it(tmp_path, rubric):
    data = tmp_path / "in.jsonl"
    data.write_bytes(ROWS.splitlines(keepends=True)[0])
    (tmp_path / "plain").write_text("")
    proc = run_cli("score", str(data), "--rubric", str(rubric), *NO_SERVER, "-o", str(tmp_path / "plain" / "o.jsonl"))
    assert proc.returncode == 2 and "a part of its path is a file" in _one_error_line(proc.stderr)



def test_score_into_dev_null_judges_and_discards_the_rows(judge_server, tmp_path, rubric):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(ROWS.splitlines(keepends=True)[:3]))
    proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", judge_server.base_url,
                   "--no-cache", "-o", os.devnull)
    assert proc.returncode == 0, proc.stderr
    assert "done: 3 rows (3 judged, 0 resumed)" in proc.stderr and judge_server.state.count == 6  # 2 criteria
    assert Path(os.devnull).is_char_device()  # written to, never replaced


@pytest.mark.parametrize("flag", ["--resume", "--ray"])
def test_resume_or_ray_into_dev_null_is_exit_2(tmp_path, rubric, flag):
    data = tmp_path / "in.jsonl"
    data.write_bytes(ROWS.splitlines(keepends=True)[0])
    proc = run_cli("score", str(data), "--rubric", str(rubric), *NO_SERVER, "-o", os.devnull, flag)
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert os.devnull in line and "not a regular file (a device or a pipe)" in line, line
    assert Path(os.devnull).is_char_device() and not Path(f"{os.devnull}.parts").exists()
