"""Throughput of `Judge.score`: N rows x K criteria against a judge server with fixed latency.

Prints calls per row and the measured time over the concurrency-bound ideal
(ideal = calls x latency / concurrency; efficiency = ideal / measured, target >= 0.9).

    python benchmarks/throughput.py [--rows 600] [--criteria 5] [--latency 0.05] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import judgekit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _judge_server import judge_server


def run(base_url: str, rows: int, criteria: int, concurrency: int, per_call: str, latency: float) -> dict[str, float]:
    rubric = judgekit.rubric_from_data({"name": "bench", "criteria": [{"id": f"c{i}", "text": f"Criterion {i}."} for i in range(criteria)]})
    data = [{"id": i, "prompt": f"Question {i}?", "response": f"Answer number {i}."} for i in range(rows)]
    with judgekit.Judge("openai:bench", base_url=base_url, concurrency=concurrency, cache=False, criteria_per_call=per_call) as judge:
        judge.score(data[:concurrency], rubric)  # warm up connections
        warm_up_calls = judge.stats.calls
        started = time.perf_counter()
        results = judge.score(data, rubric)
        wall = time.perf_counter() - started
        calls = judge.stats.calls - warm_up_calls
    assert len(results) == rows and all(r.reward == 1.0 for r in results)
    ideal = calls * latency / concurrency
    return {"calls": calls, "calls_per_row": calls / rows, "wall": wall, "ideal": ideal, "efficiency": ideal / wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench-not-a-key")
    print(f"rows={args.rows} criteria={args.criteria} latency={args.latency}s concurrency={args.concurrency}")
    with judge_server(args.latency) as base_url:
        for per_call in ("one", "all"):
            r = run(base_url, args.rows, args.criteria, args.concurrency, per_call, args.latency)
            print(
                f"criteria-per-call={per_call:<3}  calls/row={r['calls_per_row']:.2f}  calls={r['calls']:.0f}  "
                f"measured={r['wall']:.2f}s  ideal={r['ideal']:.2f}s  ideal/measured={r['efficiency']:.2f}  "
                f"measured/ideal={r['wall'] / r['ideal']:.2f}x"
            )


if __name__ == "__main__":
    main()
