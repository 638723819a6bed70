"""Peak memory of `judgekit score` and `judgekit eval` as the input grows: the same run on 10k, 100k
and 1M rows (pairs).

Each run is `judgekit score` in its own process (read from a JSONL file, written to a JSONL file,
--no-cache), its peak resident set size taken from the kernel when it exits. Two rubrics:

- checks: `check` criteria only, decided by code: every row goes through reading, checking,
  judging and writing without a model call, so a million rows take minutes, not hours;
- judged: one model-judged criterion, each row a call to judgekit's scripted OpenAI-compatible
  server (its own process, latency 0): the HTTP client's memory too, at the sizes a 2-core
  machine judges in reasonable time.

The eval series runs `judgekit eval --format judgebench` (labelled pairs in three subsets, a JSON
report with its bootstrap intervals) with the checks rubric: every pair is compared in both orders
by code, so the series measures reading, judging, the per-pair outcomes and the statistics.

Target: peak RSS on the largest input <= 1.25 x peak on 10k rows. The figures are printed, not asserted.

    python benchmarks/memory.py [--rows 10000,100000,1000000] [--judged-rows 2000,10000]
                                [--eval-pairs 10000,100000,1000000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _judge_server import judge_server

CLI = [sys.executable, str(Path(__file__).resolve().parent.parent / "cli.py")]
CHECKS = ("name: checks\ncriteria:\n  - id: short\n    kind: check\n    check: {type: max_words, value: 50}\n"
          "  - id: polite\n    kind: check\n    check: {type: not_contains, value: sorry}\n")
JUDGED = "name: judged\ncriteria:\n  - id: answers\n    text: The response answers the question.\n"


def write_rows(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"row-{i}", "prompt": f"Question number {i}: what is {i} + {i}?",
                                 "response": f"The answer is {2 * i}."}) + "\n")


def write_pairs(path: Path, n: int) -> None:
    """JudgeBench's layout: one labelled pair a line, the subset in `source`."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            short, long = f"The answer is {2 * i}.", f"The answer is {2 * i}. " + "sorry " * (i % 3)
            fh.write(json.dumps({"pair_id": f"p{i}", "source": ("math", "code", "chat")[i % 3],
                                 "question": f"Question number {i}: what is {i} + {i}?", "response_A": short,
                                 "response_B": long, "label": "A>B" if i % 2 else "B>A"}) + "\n")


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one CLI run, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"judgekit {args[0]} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def series(kind: str, sizes: list[int], base_url: str, concurrency: int, work: Path) -> None:
    rubric = work / f"{kind}.yaml"
    rubric.write_text(CHECKS if kind == "checks" else JUDGED)
    first: float | None = None
    for n in sizes:
        data, out = work / f"in-{n}.jsonl", work / f"out-{kind}-{n}.jsonl"
        if not data.exists():
            write_rows(data, n)
        rss, seconds = peak_rss_mb(["score", str(data), "--rubric", str(rubric), "--judge", "openai:bench",
                                    "--base-url", base_url, "--no-cache", "--concurrency", str(concurrency),
                                    "-o", str(out)])
        with out.open("rb") as fh:
            written = sum(1 for _ in fh)
        assert written == n, f"{written} rows written of {n}"
        first = first or rss
        print(f"{kind:<7} rows={n:>9,}  peak RSS={rss:7.1f} MB  x{rss / first:.2f} of {sizes[0]:,} rows  "
              f"time={seconds:7.1f}s", flush=True)
        out.unlink()


def eval_series(sizes: list[int], base_url: str, concurrency: int, work: Path) -> None:
    rubric = work / "checks.yaml"
    rubric.write_text(CHECKS)
    first: float | None = None
    for n in sizes:
        data, out = work / f"pairs-{n}.jsonl", work / f"report-{n}.json"
        if not data.exists():
            write_pairs(data, n)
        rss, seconds = peak_rss_mb(["eval", str(data), "--format", "judgebench", "--rubric", str(rubric),
                                    "--judge", "openai:bench", "--base-url", base_url, "--no-cache",
                                    "--concurrency", str(concurrency), "-o", str(out)])
        judged = json.loads(out.read_text())["overall"]["n"]
        assert judged == n, f"{judged} pairs in the report of {n}"
        first = first or rss
        print(f"eval    pairs={n:>8,}  peak RSS={rss:7.1f} MB  x{rss / first:.2f} of {sizes[0]:,} pairs  "
              f"time={seconds:7.1f}s", flush=True)
        for done in work.glob(f"report-{n}*"):
            done.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,100000,1000000", help="sizes for the checks-only rubric ('' to skip)")
    parser.add_argument("--judged-rows", default="2000,10000", help="sizes for the model-judged rubric ('' to skip)")
    parser.add_argument("--eval-pairs", default="10000,100000,1000000", help="sizes for `judgekit eval` ('' to skip)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench-not-a-key")
    with judge_server(0.0) as base_url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.rows:
            series("checks", [int(n) for n in args.rows.split(",")], base_url, args.concurrency, work)
        if args.judged_rows:
            series("judged", [int(n) for n in args.judged_rows.split(",")], base_url, args.concurrency, work)
        if args.eval_pairs:
            eval_series([int(n) for n in args.eval_pairs.split(",")], base_url, args.concurrency, work)


if __name__ == "__main__":
    main()
