"""Progress through a pipe: plain lines every --progress-every seconds, told in calls (cached ones apart),
none with --quiet; a structured-output fallback said once on stderr and counted in the summary."""

from __future__ import annotations

import re

from judgekit.cli.progress import Estimate
from tests.helpers import run_cli, write_jsonl

LINE = re.compile(r"^scoring: (\d+)/(\d+) rows \(\d+%\), (\d+) calls sent \+ (\d+) from the cache, [\d.]+ calls/s, "
                  r"elapsed \dm\d\ds, ETA (\dm\d\ds|\?)$", re.M)


def _score(server, tmp_path, rubric, *flags: str, rows: int = 12):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "prompt": "p", "response": f"r{i}"} for i in range(rows)])
    return run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
                   "-o", str(tmp_path / "out.jsonl"), "--concurrency", "2", *flags)


def test_a_piped_run_prints_a_progress_line_every_few_seconds(judge_server, tmp_path, rubric):
    judge_server.state.latency = 0.1
    proc = _score(judge_server, tmp_path, rubric, "--progress-every", "0.3")
    assert proc.returncode == 0, proc.stderr
    lines = LINE.findall(proc.stderr)
    assert len(lines) >= 3, proc.stderr  # 24 calls, 2 at a time, 0.1 s each: about 1.2 s
    done = [int(d) for d, *_ in lines]
    assert done == sorted(done) and all(total == "12" for _, total, *_ in lines)
    assert "ETA" in proc.stderr and "\x1b[" not in proc.stderr  # plain text: no terminal codes in a log


def test_quiet_prints_no_progress(judge_server, tmp_path, rubric):
    judge_server.state.latency = 0.1
    proc = _score(judge_server, tmp_path, rubric, "--progress-every", "0.2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert not LINE.search(proc.stderr) and "done: 12 rows" in proc.stderr


def test_the_eta_counts_calls_left_not_rows_and_cached_calls_apart():
    # 4 of 10 rows served by the cache at once (8 calls), 1 row then judged by 2 calls in 2 s: 5 rows left
    # take 10 calls at 1 call/s. Counted in rows, 5 of 10 rows in 2 s would say 2 s.
    assert Estimate(rows_total=10, rows_done=5, calls=2, cached=8, seconds=2.0).eta() == 10.0
    assert Estimate(rows_total=10, rows_done=0, calls=0, cached=0, seconds=1.0).eta() is None


def test_a_structured_output_fallback_is_said_once_and_counted(judge_server, tmp_path, rubric):
    judge_server.state.unsupported_forms = ("json_schema",)
    proc = _score(judge_server, tmp_path, rubric, "--quiet", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("refused response_format json_schema; falling back to json_object") == 1, proc.stderr
    assert re.search(r"notices: structured-output fallback \(json_schema -> json_object\) \d+x", proc.stderr)
