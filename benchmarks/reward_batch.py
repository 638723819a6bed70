"""How fast one GRPO batch is rewarded: 64 prompts x 8 completions x 5 criteria.

The judge is judgekit's scripted OpenAI-compatible server in its own process (so it uses the other
core), answering each call after a fixed latency. The reward function is the TRL one, called once
as TRL calls it, with judge concurrency 64 and the cache off. The bound no client can beat is
calls x latency / concurrency; the figure that matters is wall time / that bound.

    python benchmarks/reward_batch.py [--latency 0.05] [--concurrency 64] [--duplicates 0.0] [--criteria-per-call one]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import judgekit
from judgekit import rubric_from_data

RUBRIC = rubric_from_data({
    "name": "bench",
    "criteria": [{"id": f"c{i}", "text": f"The response satisfies property number {i}."} for i in range(1, 6)],
})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the scripted judge server exited")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the scripted judge server did not start")


def batch(prompts: int, per_prompt: int, duplicates: float) -> tuple[list[str], list[str]]:
    ps, cs = [], []
    for p in range(prompts):
        distinct = max(1, round(per_prompt * (1 - duplicates)))
        for k in range(per_prompt):
            ps.append(f"Question {p}: explain topic {p} briefly.")
            cs.append(f"Answer {k % distinct} to question {p}: " + "some words " * (5 + k % distinct))
    return ps, cs


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--completions", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duplicates", type=float, default=0.0, help="fraction of each group that repeats a completion")
    parser.add_argument("--criteria-per-call", default="one", help="one | all | N (judge calls per completion)")
    parser.add_argument("--repeats", type=int, default=2, help="batches timed (the best is reported)")
    args = parser.parse_args(argv)

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "judgekit.testing", "--port", str(port), "--latency", str(args.latency)])
    try:
        base = f"http://127.0.0.1:{port}/v1"
        wait_ready(base, server)
        prompts, completions = batch(args.prompts, args.completions, args.duplicates)
        distinct = len(set(zip(prompts, completions)))
        per_call = args.criteria_per_call if args.criteria_per_call in ("one", "all") else int(args.criteria_per_call)
        k = len(RUBRIC.criteria)
        calls = distinct * (k if per_call == "one" else 1 if per_call == "all" else -(-k // per_call))
        ideal = calls * args.latency / args.concurrency
        with judgekit.Judge("openai:scripted", base_url=base, api_key=os.environ.get("OPENAI_API_KEY", "unused"),
                            concurrency=args.concurrency, cache=False, criteria_per_call=per_call) as judge:
            reward = judgekit.trl_reward(RUBRIC, judge)
            # warm up the connection pool and the prompt templates with one small batch
            asyncio.run(reward(prompts=["warm"] * 4, completions=[f"w{i}" for i in range(4)]))
            times = []
            for _ in range(args.repeats):
                calls_before = judge.stats.calls
                start = time.perf_counter()
                rewards = asyncio.run(reward(prompts=prompts, completions=completions))
                times.append(time.perf_counter() - start)
                made = judge.stats.calls - calls_before
                assert len(rewards) == len(completions) and all(r == 1.0 for r in rewards), rewards[:5]
                assert made == calls, (made, calls)
                # identical batches are memoised per step; vary the batch so each repeat judges anew
                completions = [c + " " for c in completions]
        wall = min(times)
        figures = {
            "completions": len(completions), "distinct": distinct, "criteria": len(RUBRIC.criteria),
            "criteria_per_call": per_call, "judge_calls": calls, "latency_s": args.latency, "concurrency": args.concurrency,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ratio": round(wall / ideal, 3),
            "all_wall_s": [round(t, 3) for t in times],
        }
        print(json.dumps(figures))
        print(f"{len(completions)} completions ({distinct} distinct) x {len(RUBRIC.criteria)} criteria = {calls} judge calls; "
              f"wall {wall:.2f}s, ideal {ideal:.2f}s (calls x latency / concurrency), ratio {wall / ideal:.2f}x")
        return figures
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
