"""The page of a run as the run grows: `judgekit report` on synthetic score runs of 2k, 20k and 1M rows.

Each run is written as a real one would be: the input (prompt, response), the output rows (five
criteria, one a pitfall, with reasoning; one row in ten unscored) and the run record beside them, so the
page finds the texts. For each size the script prints the page's size, the peak memory and time of
`judgekit report` (its own process), and how long headless Chromium takes to open the page and run its
script (`--dump-dom`, the page laid out). The figures are printed, not asserted.

    python benchmarks/report_size.py [--rows 2000,20000,1000000] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, str(Path(__file__).resolve().parent.parent / "cli.py")]
CRITERIA = [("accurate", 3.0), ("complete", 2.0), ("clear", 1.0), ("cites", 1.0), ("rude", -2.0)]
WORDS = ["the", "judge", "reads", "every", "answer", "and", "weighs", "each", "criterion", "before", "it", "gives", "its",
         "verdict", "on", "the", "row"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def write_run(folder: Path, rows: int) -> Path:
    """A score run of `rows` rows: input, output and record, as `judgekit score --explain` leaves them."""
    rng = random.Random(rows)
    source, output = folder / "in.jsonl", folder / "out.jsonl"
    content = hashlib.sha256()  # the input's digest as the run record keeps it (the page checks it)
    with source.open("w") as given, output.open("w") as out:
        for i in range(rows):
            obj = {"id": f"r{i}", "prompt": f"Question {i}: " + _text(rng, 30), "response": _text(rng, 80)}
            given.write(json.dumps(obj) + "\n")
            content.update(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n")
            unscored = i % 10 == 0
            scores = {cid: None if unscored and cid == "cites" else rng.choice((0, 1)) for cid, _ in CRITERIA}
            row = {"id": f"r{i}", "reward": None if unscored else rng.random(), "coverage": 0.875 if unscored else 1.0,
                   "scores": scores, "unscored": {"cites": "timed out (gave up after 4 attempts)"} if unscored else {},
                   "explanations": {cid: _text(rng, 15) for cid, _ in CRITERIA}}
            out.write(json.dumps(row) + "\n")
    record = {"format": "judgekit run record 1", "command": "score", "fields": {}, "input": "sha256:" + content.hexdigest()[:32],
              "rubric": "sha256:synthetic", "judge": {"spec": "openai:synthetic", "base_url": []}, "profile": "judgekit",
              "settings": {"explain": True},
              "about": {"input_path": str(source), "judge": "openai:synthetic", "rubric_name": "synthetic",
                        "criteria": [{"id": c, "text": f"{c}.", "weight": w} for c, w in CRITERIA],
                        "started": "2026-01-01T00:00:00+00:00"},
              "totals": {"seconds": rows * 0.01, "stats": {"calls": rows * 5, "cache_hits": 0, "prompt_tokens": rows * 900,
                                                           "completion_tokens": rows * 60}, "cost_usd": None, "rows": rows}}
    (folder / "out.jsonl.run.json").write_text(json.dumps(record))
    return output


def report(output: Path) -> tuple[Path, float, float]:
    """The page, the seconds `judgekit report` took and its peak memory (MB)."""
    page = output.with_suffix(".html")
    script = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode); "
              "sys.stderr.write(p.stderr)")
    proc = subprocess.run([sys.executable, "-c", script, *CLI, "report", str(output), "-o", str(page)], capture_output=True,
                          text=True, check=True)
    seconds, peak, code = proc.stdout.split()
    if code != "0":
        raise SystemExit(proc.stderr)
    return page, float(seconds), float(peak)


def open_time(chromium: str, page: Path, profile: Path) -> float:
    """Seconds for headless Chromium to load the page, run its script and hand back the DOM."""
    started = time.perf_counter()
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                    f"--user-data-dir={profile}", "--dump-dom", page.as_uri()], capture_output=True, timeout=600, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000,20000,1000000")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    print(f"{'rows':>9} {'output MB':>9} {'page MB':>8} {'report s':>9} {'report MB':>10} {'chromium s':>11}")
    for rows in (int(n) for n in args.rows.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            output = write_run(folder, rows)
            page, seconds, peak = report(output)
            opened = open_time(args.chromium, page, folder / "profile") if args.chromium else float("nan")
            print(f"{rows:>9} {os.path.getsize(output) / 1e6:>9.1f} {page.stat().st_size / 1e6:>8.2f} {seconds:>9.1f} "
                  f"{peak:>10.0f} {opened:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
