"""How fast one GRPO batch is rewarded: 64 prompts x 8 completions x 5 criteria, judgekit against
a bare aiohttp loop making the same calls, in one run.

The judge is judgekit's scripted OpenAI-compatible server in its own process (so it uses the other
core), answering each call after a fixed latency. The reward function is the TRL one, called once
as TRL calls it, with judge concurrency 64 and the cache off. The same request bodies are posted by
a bare aiohttp loop (benchmarks/_bare_loop.py) to the same server, turn about with judgekit. The
bound no client can beat is calls x latency / concurrency; the figures that matter are judgekit's
calls per second over the bare loop's (goal >= 0.95) and wall time over that bound.

    python benchmarks/reward_batch.py [--latency 0.05] [--concurrency 64] [--duplicates 0.0] [--criteria-per-call one]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout's judgekit first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bare_loop import bare_loop, chat_body, loop_name, recorded_requests
from throughput import figures, repeated_prefix_share, report

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


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--completions", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duplicates", type=float, default=0.0, help="fraction of each group that repeats a completion")
    parser.add_argument("--criteria-per-call", default="one", help="one | all | N (judge calls per completion)")
    parser.add_argument("--repeats", type=int, default=3, help="batches timed on each side, in turn (the best is reported)")
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
        per_completion = k if per_call == "one" else 1 if per_call == "all" else -(-k // per_call)  # judge calls
        calls = distinct * per_completion
        ideal = calls * args.latency / args.concurrency
        bodies = [chat_body(r) for r in recorded_requests(
            lambda j: asyncio.run(judgekit.trl_reward(RUBRIC, j)(prompts=prompts, completions=completions)),
            concurrency=args.concurrency, criteria_per_call=per_call)]
        assert len(bodies) == calls, (len(bodies), calls)
        bare_runs, judgekit_runs = [], []
        with judgekit.Judge("openai:scripted", base_url=base, api_key=os.environ.get("OPENAI_API_KEY", "unused"),
                            concurrency=args.concurrency, cache=False, criteria_per_call=per_call) as judge:
            reward = judgekit.trl_reward(RUBRIC, judge)
            warm = -(-args.concurrency // per_completion)  # completions making `concurrency` calls
            for repeat in range(args.repeats):
                bare_runs.append(bare_loop(base, bodies, args.concurrency))
                # Warmed as the bare loop is, with one round of `concurrency` calls just before: its
                # run left the judge's pooled connections idle longer than they are kept (2 s).
                asyncio.run(reward(prompts=["warm"] * warm, completions=[f"w{repeat} {i}" for i in range(warm)]))
                calls_before = judge.stats.calls
                start, cpu = time.perf_counter(), time.process_time()
                rewards = asyncio.run(reward(prompts=prompts, completions=completions))
                judgekit_runs.append((time.perf_counter() - start, time.process_time() - cpu))
                made = judge.stats.calls - calls_before
                assert len(rewards) == len(completions) and all(r == 1.0 for r in rewards), rewards[:5]
                assert made == calls, (made, calls)
                # identical batches are memoised per step; vary the batch so each repeat judges anew
                completions = [c + " " for c in completions]
        result = figures(f"GRPO batch ({len(completions)} completions, {distinct} distinct, {k} criteria, "
                         f"criteria per call: {per_call})", calls, ideal, bare_runs, judgekit_runs)
        result.update({"latency_s": args.latency, "concurrency": args.concurrency, "loop": loop_name(),
                       "repeated_prefix_share": round(repeated_prefix_share(bodies), 3)})
        report(result)
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
