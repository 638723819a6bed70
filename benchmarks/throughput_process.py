"""Whole-process throughput: `judgekit score` on a file against a bare aiohttp process making the same
judge calls with the same bodies, each timed as a whole process (start-up, reading, writing included).

N rows against a one-criterion rubric (one call per row) to the scripted judge server in its own
process with a fixed latency, `--concurrency` calls at a time on both sides. The bodies the bare
process posts are the ones judgekit sends for these rows (recorded through judgekit's own request
building, see benchmarks/_bare_loop.py). The two processes run in turn, `--repeats` times each;
prints each side's median wall time and CPU time (user + system, of the client process), the ideal
(calls x latency / concurrency) and the ratio bare / judgekit in calls per second (goal >= 0.95).

    python benchmarks/throughput_process.py [--rows 3000] [--latency 0.05] [--concurrency 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout's judgekit first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bare_loop import chat_body, recorded_requests
from _judge_server import judge_server
from _timed import timed

import judgekit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

RUBRIC = "name: bench\ncriteria:\n  - id: helpful\n    text: The response answers the question.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, taken in turn (the median is reported)")
    args = parser.parse_args()
    rows = [{"id": f"r{i}", "prompt": f"Question {i}: what is {i} + {i}?", "response": f"It is {2 * i}."} for i in range(args.rows)]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT), "OPENAI_API_KEY": "x"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an install: judgekit's bytecode written once, as aiohttp's is
    with tempfile.TemporaryDirectory() as tmp, judge_server(args.latency) as base_url:
        data, rubric, bodies, out = (Path(tmp) / name for name in ("in.jsonl", "rubric.yaml", "bodies.json", "out.jsonl"))
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        rubric.write_text(RUBRIC, encoding="utf-8")
        requests = recorded_requests(lambda judge: judge.score(rows, judgekit.load_rubric(rubric)), concurrency=args.concurrency)
        bodies.write_text(json.dumps([chat_body(r) for r in requests]), encoding="utf-8")
        sides = {
            "bare aiohttp process": [sys.executable, str(HERE / "_bare_process.py"), base_url, str(bodies), str(args.concurrency)],
            "judgekit score": [sys.executable, "-m", "judgekit", "score", str(data), "--rubric", str(rubric), "--judge",
                               "openai:scripted", "--base-url", base_url, "--no-cache", "--concurrency", str(args.concurrency),
                               "-o", str(out)],
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for _ in range(args.repeats):
            for name, command in sides.items():
                times[name].append(timed(command, env))
        written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(written) == args.rows and all(r["reward"] is not None for r in written), "not every row was scored"
    calls = len(requests)
    ideal = calls * args.latency / args.concurrency
    print(f"{calls} judge calls ({args.rows} rows), {args.latency * 1000:.0f} ms latency, concurrency {args.concurrency}; "
          f"ideal {ideal:.2f} s; median of {args.repeats} whole-process runs each")
    medians = {name: statistics.median(t[0] for t in runs) for name, runs in times.items()}
    for name, seconds in medians.items():
        walls, cpu = [t[0] for t in times[name]], statistics.median(t[1] for t in times[name])
        print(f"  {name:<22} {seconds:6.2f} s   {calls / seconds:7.0f} calls/s   (min {min(walls):.2f}, max {max(walls):.2f}); "
              f"CPU {cpu:.2f} s, {cpu / calls * 1e6:.0f} us per call")
    print(f"  ratio judgekit / bare in calls per second: {medians['bare aiohttp process'] / medians['judgekit score']:.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
