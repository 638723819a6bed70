"""Client cost of `Judge.score`: judgekit against a bare aiohttp loop making the same calls, in one run.

N rows x K criteria (one criterion per call by default) against the scripted judge server in its
own process with a fixed latency. The same request bodies are posted by a bare aiohttp loop
(benchmarks/_bare_loop.py) to the same server, turn about with judgekit, `--repeats` times each.
Prints each side's best time, the ratio judgekit / bare in calls per second (goal >= 0.95), and
both against the concurrency bound (calls x latency / concurrency); and the share of prompt
characters that repeat a prefix already sent, which a server's prefix cache serves almost free.

    python benchmarks/throughput.py [--rows 600] [--criteria 5] [--latency 0.05] [--concurrency 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout's judgekit first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bare_loop import bare_loop, chat_body, loop_name, recorded_requests
from _judge_server import judge_server

import judgekit


def judgekit_seconds(base_url: str, rubric: judgekit.Rubric, data: list[dict[str, object]], concurrency: int,
                     per_call: str) -> tuple[float, float, int]:
    with judgekit.Judge("openai:scripted", base_url=base_url, concurrency=concurrency, cache=False,
                        criteria_per_call=per_call) as judge:
        judge.score(data[:concurrency], rubric)  # warm up connections
        calls_before = judge.stats.calls
        started, cpu = time.perf_counter(), time.process_time()
        results = judge.score(data, rubric)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        calls = judge.stats.calls - calls_before
    assert len(results) == len(data) and all(r.reward == 1.0 for r in results)
    return wall, cpu, calls


def compare(base_url: str, args: argparse.Namespace, per_call: str) -> dict[str, object]:
    criteria = [{"id": f"c{i}", "text": f"Criterion {i}."} for i in range(args.criteria)]
    rubric = judgekit.rubric_from_data({"name": "bench", "criteria": criteria})
    data: list[dict[str, object]] = [{"id": i, "prompt": f"Question {i}?", "response": f"Answer number {i}."} for i in range(args.rows)]
    bodies = [chat_body(r) for r in recorded_requests(lambda j: j.score(data, rubric), criteria_per_call=per_call,
                                                      concurrency=args.concurrency)]
    bare_runs, judgekit_runs = [], []
    for _ in range(args.repeats):
        bare_runs.append(bare_loop(base_url, bodies, args.concurrency))
        wall, cpu, calls = judgekit_seconds(base_url, rubric, data, args.concurrency, per_call)
        assert calls == len(bodies), (calls, len(bodies))
        judgekit_runs.append((wall, cpu))
    result = figures(f"criteria per call: {per_call}", len(bodies), len(bodies) * args.latency / args.concurrency,
                     bare_runs, judgekit_runs)
    return {**result, "repeated_prefix_share": round(repeated_prefix_share(bodies), 3)}


def repeated_prefix_share(bodies: list[dict[str, object]]) -> float:
    """Share of all prompt characters that repeat the longest prefix of an earlier prompt (in the
    order the calls were sent). The longest common prefix with any earlier prompt is found among its
    two neighbours in sorted order."""
    seen: list[str] = []
    repeated = total = 0
    for body in bodies:
        text = "\x00".join(str(m["content"]) for m in body["messages"])  # type: ignore[attr-defined, index]
        at = bisect.bisect_left(seen, text)
        repeated += max((_common(text, seen[i]) for i in (at - 1, at) if 0 <= i < len(seen)), default=0)
        total += len(text)
        seen.insert(at, text)
    return repeated / total if total else 0.0


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def figures(label: str, calls: int, ideal: float, bare_runs: list[tuple[float, float]],
            judgekit_runs: list[tuple[float, float]]) -> dict[str, object]:
    """Best wall time of each side and their ratio; CPU milliseconds per call (this process) of each."""
    bare, ours = min(w for w, _ in bare_runs), min(w for w, _ in judgekit_runs)
    bare_cpu, our_cpu = min(c for _, c in bare_runs) / calls * 1000, min(c for _, c in judgekit_runs) / calls * 1000
    return {"label": label, "calls": calls, "ideal_s": round(ideal, 3), "bare_s": round(bare, 3),
            "judgekit_s": round(ours, 3), "ratio": round(bare / ours, 3), "bare_cpu_ms_per_call": round(bare_cpu, 3),
            "judgekit_cpu_ms_per_call": round(our_cpu, 3), "cpu_ratio": round(bare_cpu / our_cpu, 3),
            "bare_runs_s": [round(w, 3) for w, _ in bare_runs], "judgekit_runs_s": [round(w, 3) for w, _ in judgekit_runs]}


def report(r: dict[str, object]) -> None:
    print(json.dumps(r))
    print(f"{r['label']}: {r['calls']} calls  bare aiohttp loop {r['bare_s']:.2f}s  judgekit {r['judgekit_s']:.2f}s  "
          f"judgekit/bare (calls/s) {r['ratio']:.2f}  ideal {r['ideal_s']:.2f}s  "
          f"client CPU per call: bare {r['bare_cpu_ms_per_call']:.3f} ms, judgekit {r['judgekit_cpu_ms_per_call']:.3f} ms "
          f"(bare/judgekit {r['cpu_ratio']:.2f})  prompt characters repeating an earlier prefix: "
          f"{100 * float(r['repeated_prefix_share']):.0f}%", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, taken in turn (the best is reported)")
    parser.add_argument("--per-call", nargs="+", default=["one", "all"], help="criteria per call: one | all | N")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench-not-a-key")
    print(f"rows={args.rows} criteria={args.criteria} latency={args.latency}s concurrency={args.concurrency} "
          f"loop={loop_name()} repeats={args.repeats}")
    with judge_server(args.latency) as base_url:
        for per_call in args.per_call:
            report(compare(base_url, args, per_call))


if __name__ == "__main__":
    main()
