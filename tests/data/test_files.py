"""Input and output files as a user meets them: the input is never written, one bad row is one bad
row, two runs never share an output, Ctrl-C / SIGTERM / a closed pipe stop cleanly, JSON arrays read."""

from __future__ import annotations

import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CLI, ROOT, SCORE_RUBRIC, read_jsonl, run_cli, write_jsonl

PAIR_RUBRIC = "name: p\ncriteria:\n  - id: better\n    text: The response is the better one.\n"
FIELDS = {
    "score": {"response": "yes"},
    "compare": {"response_a": "yes", "response_b": "no"},
    "rank": {"responses": ["yes", "no"]},
}


def rows_for(command: str, n: int) -> list[dict]:
    return [{"id": i, "prompt": "q", **FIELDS[command]} for i in range(n)]


def judge_args(server_url: str, rubric: Path) -> list[str]:
    return ["--rubric", str(rubric), "--judge", "openai:m", "--base-url", server_url, "--no-cache"]


def start(args: list[str]) -> subprocess.Popen[str]:
    """The CLI in the background, taking Ctrl-C as a terminal's foreground job does: a shell script
    that starts the tests as a background job (`cmd &`) leaves them, and every process they start,
    with SIGINT ignored, as POSIX shells do for such jobs. A handler set here, unlike an ignored
    signal, is reset to the default when the child starts."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([*CLI, *args], cwd=str(ROOT), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for_rows(path: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run did not write {count} rows in time (exit {proc.poll()})")


def assert_complete(path: Path, n: int) -> None:
    """Every row exactly once, in input order, each a whole line."""
    text = path.read_text()
    assert text.endswith("\n")
    assert [r["id"] for r in read_jsonl(path)] == list(range(n))


# ---- the input is never written -------------------------------------------------------------------


@pytest.mark.parametrize("command, how, resume", [
    ("score", "same path", False), ("score", "same path", True), ("score", "hard link", False),
    ("score", "symlink", True), ("score", "dotted path", False), ("compare", "same path", False),
    ("compare", "hard link", True), ("rank", "same path", False), ("rank", "hard link", False),
    # --ray writes its output from the parts of its shards: the same check, before Ray starts
    ("score --ray", "same path", False), ("score --ray", "hard link", True), ("compare --ray", "same path", True),
    ("compare --ray", "hard link", False),
])
def test_output_that_is_the_input_is_refused_and_the_input_stays_intact(tmp_path, rubric, command, how, resume):
    command, *more = command.split()
    data = write_jsonl(tmp_path / "in.jsonl", rows_for(command, 5))
    before = data.read_bytes()
    out = {"same path": data, "hard link": tmp_path / "hard.jsonl", "symlink": tmp_path / "sym.jsonl",
           "dotted path": tmp_path / "sub" / ".." / "in.jsonl"}[how]
    (tmp_path / "sub").mkdir()
    if how == "hard link":
        os.link(data, out)
    elif how == "symlink":
        out.symlink_to(data)
    proc = run_cli(command, str(data), *judge_args("http://127.0.0.1:9/v1", rubric), "-o", str(out),
                   *(["--resume"] if resume else []), *more, "--max-attempts", "1")
    assert proc.returncode == 2, proc.stderr
    assert "the output is the input file" in proc.stderr and "Traceback" not in proc.stderr
    assert data.read_bytes() == before
    assert not (tmp_path / f"{out.name}.parts").exists()  # refused before anything was written


@pytest.mark.parametrize("command, how", [
    ("score", "same path"), ("score", "hard link"), ("compare", "same path"), ("rank", "hard link"),
    ("score --ray", "same path"), ("compare --ray", "hard link"),
])
def test_a_run_record_that_would_be_the_input_is_refused_before_anything_is_written(tmp_path, rubric, command, how):
    """The record beside the output (OUT.run.json) is written too: `score X.run.json -o X` must not write it over X."""
    command, *more = command.split()
    out = tmp_path / "out.jsonl"
    data = write_jsonl(tmp_path / ("out.jsonl.run.json" if how == "same path" else "in.jsonl"), rows_for(command, 5))
    if how == "hard link":
        os.link(data, tmp_path / "out.jsonl.run.json")
    before = data.read_bytes()
    proc = run_cli(command, str(data), *judge_args("http://127.0.0.1:9/v1", rubric), "-o", str(out), *more,
                   "--max-attempts", "1")
    assert proc.returncode == 2, proc.stderr
    assert "would be written over the input file" in proc.stderr and "Traceback" not in proc.stderr
    assert data.read_bytes() == before
    assert not out.exists() and not (tmp_path / "out.jsonl.parts").exists()


@pytest.mark.parametrize("how", ["same path", "hard link"])
def test_eval_report_never_overwrites_the_data(tmp_path, rubric, how):
    data = tmp_path / "natural.json"
    data.write_text(json.dumps([{"input": "q", "output_1": "a", "output_2": "b", "label": 1}]))
    before = data.read_bytes()
    out = data if how == "same path" else tmp_path / "report.json"
    if how == "hard link":
        os.link(data, out)
    proc = run_cli("eval", str(data), "--format", "llmbar", *judge_args("http://127.0.0.1:9/v1", rubric), "-o", str(out))
    assert proc.returncode == 2 and "the output is the input file" in proc.stderr, proc.stderr
    assert data.read_bytes() == before


# ---- two runs, one output file --------------------------------------------------------------------


def slow_score_run(judge_server, tmp_path, rubric, *, n: int, latency: float, concurrency: int):
    """A `score` run against a slow judge, started in the background with its first rows written."""
    data = write_jsonl(tmp_path / "in.jsonl", rows_for("score", n))
    out = tmp_path / "o.jsonl"
    judge_server.state.latency = latency
    args = ["score", str(data), *judge_args(judge_server.base_url, rubric), "-o", str(out), "--concurrency", str(concurrency)]
    proc = start(args)
    wait_for_rows(out, 2, proc)
    return args, out, proc


def test_a_second_run_on_the_same_output_is_refused_while_the_first_completes(judge_server, tmp_path, rubric):
    n = 60
    args, out, first = slow_score_run(judge_server, tmp_path, rubric, n=n, latency=1.0, concurrency=2)
    for extra in ([], ["--resume"]):
        second = run_cli(*args, *extra)
        assert second.returncode == 2, second.stderr
        assert "another judgekit run is writing this file" in second.stderr and str(out) in second.stderr
    judge_server.state.latency = 0.0
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert_complete(out, n)


# ---- one bad row is one bad row -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["score", "compare", "rank"])
def test_a_lone_surrogate_row_is_written_without_a_reward_and_the_run_goes_on(judge_server, tmp_path, command):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(SCORE_RUBRIC if command != "compare" else PAIR_RUBRIC)
    lines = [json.dumps(r) for r in rows_for(command, 6)]
    lines[2] = lines[2].replace('"prompt": "q"', '"prompt": "broken \\ud800 text"')
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    args = [command, str(data), *judge_args(judge_server.base_url, rubric), "-o", str(out)]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "rows that could not be judged: 1" in proc.stderr
    assert_complete(out, 6)
    rows = read_jsonl(out)
    bad = rows[2]
    assert "field 'prompt'" in bad["unscored"]["*"] and "\\ud800" in bad["unscored"]["*"]
    if command == "score":
        assert bad["reward"] is None and all(r["reward"] == 1.0 for i, r in enumerate(rows) if i != 2)
    elif command == "compare":
        assert bad["winner"] is None and all(r["winner"] is not None for i, r in enumerate(rows) if i != 2)
    else:
        assert bad["rewards"] == [None, None] and all(None not in r["rewards"] for i, r in enumerate(rows) if i != 2)
    again = run_cli(*args, "--resume")
    assert again.returncode == 0 and "6 resumed" in again.stderr, again.stderr
    assert read_jsonl(out) == rows


def test_a_judge_reply_that_cannot_be_stored_fails_its_row_not_the_run(judge_server, tmp_path, rubric):
    # A reasoning with a lone surrogate escape: the row may be scored or fail with its reason, but the
    # run writes every row and no traceback.
    judge_server.state.script.reasoning = "echo \ud800 here"
    data = write_jsonl(tmp_path / "in.jsonl", rows_for("score", 8))
    out = tmp_path / "o.jsonl"
    for cache in (["--cache-dir", str(tmp_path / "cache")], ["--no-cache"]):
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m",
                       "--base-url", judge_server.base_url, "-o", str(out), "--explain", *cache)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
        assert_complete(out, 8)
        for row in read_jsonl(out):
            assert row["reward"] == 1.0 or (row["reward"] is None and row["unscored"]["*"])
    assert all(row["explanations"]["a"] == "echo \ud800 here" for row in read_jsonl(out))  # --no-cache: kept, escaped


def test_non_utf8_input_is_exit_2_naming_file_and_line(tmp_path, rubric):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"prompt": "q", "response": "ok"}\n{"prompt": "q", "response": "caf\xe9"}\n')
    proc = run_cli("score", str(data), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2, proc.stderr
    assert f"{data}:2" in proc.stderr and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr
    llmbar = tmp_path / "natural.json"
    llmbar.write_bytes(b'[\n  {"input": "q", "output_1": "a",\n   "output_2": "caf\xe9", "label": 1}\n]\n')
    proc = run_cli("eval", str(llmbar), "--format", "llmbar", *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2 and f"{llmbar}:3" in proc.stderr and "not UTF-8" in proc.stderr, proc.stderr


# ---- stopping early -------------------------------------------------------------------------------


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_keeps_whole_rows_says_how_to_resume(judge_server, tmp_path, rubric, sig, code):
    # 60 rows x 2 calls at 0.3 s, 4 at a time: about 9 s, so the signal lands mid-run even on a loaded machine
    n = 60
    args, out, proc = slow_score_run(judge_server, tmp_path, rubric, n=n, latency=0.3, concurrency=4)
    wait_for_rows(out, 3, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "interrupted; run again with --resume to finish" in stderr and "Traceback" not in stderr
    text = out.read_text()
    assert text.endswith("\n")
    partial = read_jsonl(out)  # every line whole
    assert 3 <= len(partial) < n
    judge_server.state.latency = 0.0
    done = run_cli(*args, "--resume")
    assert done.returncode == 0 and f"{len(partial)} resumed" in done.stderr, done.stderr
    assert_complete(out, n)


def test_closed_stdout_pipe_ends_quietly(judge_server, tmp_path, rubric):
    data = write_jsonl(tmp_path / "in.jsonl", rows_for("score", 60))
    judge_server.state.latency = 0.02
    err = tmp_path / "err.txt"
    command = shlex.join([*CLI, "score", str(data),
                        *judge_args(judge_server.base_url, rubric), "-o", "-", "--concurrency", "4"])
    shell = subprocess.run(["bash", "-c", f"{command} 2>{err} | head -1; echo \"exit=${{PIPESTATUS[0]}}\""],
                           capture_output=True, text=True, timeout=120)
    first, status = shell.stdout.splitlines()
    assert json.loads(first)["id"] == 0
    assert status == "exit=141", err.read_text()
    assert err.read_text() == ""  # no traceback, no "Task exception was never retrieved"


# ---- JSON arrays and other layouts ----------------------------------------------------------------


@pytest.mark.parametrize("indent", [2, None])
def test_compare_reads_an_llmbar_json_array(judge_server, tmp_path, indent):
    judge_server.state.script.prefer = lambda cid, a, b: "A" if "good" in a else "B"
    pairs = [{"input": f"q{i}", "output_1": "good" if i % 2 else "bad", "output_2": "bad" if i % 2 else "good",
              "label": 1 if i % 2 else 2} for i in range(4)]
    data = tmp_path / "natural.json"
    data.write_text(json.dumps(pairs, indent=indent))
    rubric = tmp_path / "p.yaml"
    rubric.write_text(PAIR_RUBRIC)
    out = tmp_path / "o.jsonl"
    proc = run_cli("compare", str(data), *judge_args(judge_server.base_url, rubric), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]  # the entry's position, even when all are on one line
    assert [r["winner"] for r in rows] == ["B", "A", "B", "A"]
    assert "agreement with 'label': 4/4" in proc.stderr


def test_a_bad_entry_of_a_json_array_is_named_by_its_line(tmp_path, rubric):
    data = tmp_path / "natural.json"
    data.write_text(json.dumps([{"input": "q", "output_1": "a", "output_2": "b"}, {"input": "q", "output_1": "a"}], indent=2))
    proc = run_cli("compare", str(data), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2, proc.stderr
    assert f"{data}:7, field 'response_b': required field is missing" in proc.stderr


def test_compare_reads_judgebench_labels(judge_server, tmp_path):
    judge_server.state.script.prefer = lambda cid, a, b: "A" if "good" in a else "B"
    rows = [{"pair_id": "p1", "question": "q", "response_A": "good", "response_B": "bad", "label": "A>B"},
            {"pair_id": "p2", "question": "q", "response_A": "bad", "response_B": "good", "label": "B>A"}]
    data = write_jsonl(tmp_path / "judgebench.jsonl", rows)
    rubric = tmp_path / "p.yaml"
    rubric.write_text(PAIR_RUBRIC)
    proc = run_cli("compare", str(data), *judge_args(judge_server.base_url, rubric), "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 0 and "agreement with 'label': 2/2" in proc.stderr, proc.stderr


def test_layouts_for_eval_name_the_format_flag(tmp_path, rubric):
    bias = tmp_path / "biasbench.json"
    bias.write_text(json.dumps({"length bias": [{"instruction": "q", "response1": "a", "response2": "b", "label": 1}]}, indent=4))
    hh = write_jsonl(tmp_path / "hh.jsonl", [{"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"}])
    for path, flag in ((bias, "--format evalbiasbench"), (hh, "--format hh-rlhf")):
        proc = run_cli("compare", str(path), *judge_args("http://127.0.0.1:9/v1", rubric))
        assert proc.returncode == 2 and f"{path}:1" in proc.stderr and flag in proc.stderr, proc.stderr


# ---- resuming without holding the rows ------------------------------------------------------------


def test_duplicate_ids_are_found_among_many_rows_and_named_by_both_lines(tmp_path, rubric):
    rows = rows_for("score", 5000)
    rows[4321]["id"] = 17
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    proc = run_cli("score", str(data), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2, proc.stderr
    assert f"{data}:4322, field 'id': duplicate id 17 (first at line 18)" in proc.stderr


def test_resume_refuses_an_output_not_in_input_order(tmp_path, rubric):
    data = write_jsonl(tmp_path / "in.jsonl", rows_for("score", 3))
    out = tmp_path / "o.jsonl"
    write_jsonl(out, [{"id": 1, "reward": 1.0}, {"id": 0, "reward": 1.0}])
    before = out.read_bytes()
    proc = run_cli("score", str(data), *judge_args("http://127.0.0.1:9/v1", rubric), "-o", str(out), "--resume")
    assert proc.returncode == 2, proc.stderr
    assert f"{out}:1, field 'id': output row 1 (id 1) is not the input's row 1" in proc.stderr
    assert out.read_bytes() == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child: writing past `limit` bytes fails with EFBIG (SIGXFSZ ignored), as a full disk does
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_that_fails_mid_run_leaves_whole_rows_and_names_the_path(judge_server, tmp_path, rubric):
    data, out = write_jsonl(tmp_path / "in.jsonl", rows_for("score", 200)), tmp_path / "out.jsonl"
    args = ["score", str(data), "-o", str(out), *judge_args(judge_server.base_url, rubric)]
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=str(ROOT), timeout=300,
                          preexec_fn=_file_size_limit(3001))  # no row ends at 3001 bytes
    assert proc.returncode == 1, proc.stderr
    message = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert message == [f"error: {out}: file too large (a file-size limit); make room and run again with --resume"], proc.stderr
    assert "Traceback" not in proc.stderr and "OSError" not in proc.stderr
    text = out.read_text()
    assert 0 < len(text) <= 3001 and text.endswith("\n")  # no torn row
    assert [r["id"] for r in read_jsonl(out)] == list(range(len(text.splitlines())))
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [r["reward"] for r in read_jsonl(out)] == [1.0] * 200


def test_output_to_a_full_device_is_exit_1_naming_it(judge_server, tmp_path, rubric):
    data = write_jsonl(tmp_path / "in.jsonl", rows_for("score", 3))
    proc = run_cli("score", str(data), "-o", "/dev/full", *judge_args(judge_server.base_url, rubric))
    assert proc.returncode == 1, proc.stderr
    assert "error: /dev/full: no space left on device; write elsewhere" in proc.stderr
    assert "Traceback" not in proc.stderr and "OSError" not in proc.stderr


SINK_AFTER_A_FAILED_WRITE = """
import sys
from pathlib import Path
from judgekit.data.outfile import FileSink, open_locked
from judgekit.errors import OutputFailed
path = Path(sys.argv[1])
sink = FileSink(path, open_locked(path))
sink.write(1, {"id": 1, "text": "x" * 3000})  # held for row 0
for index, size in ((0, 10), (2, 10)):  # rows 0 and 1 together pass the limit; row 2 alone would fit
    try:
        sink.write(index, {"id": index, "text": "x" * size})
    except OutputFailed as exc:
        print(index, exc)
"""


def test_after_a_failed_write_no_later_row_is_written(tmp_path):
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-c", SINK_AFTER_A_FAILED_WRITE, str(out)], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=60, preexec_fn=_file_size_limit(1000))
    assert proc.stdout.splitlines() == [f"{i} {out}: file too large (a file-size limit); make room and run again with --resume"
                                        for i in (0, 2)], proc.stderr
    assert out.read_text() == ""  # neither a torn row nor row 2 after the gap
