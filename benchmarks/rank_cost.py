"""Judge calls per pair and per group, for each rank strategy, measured against the scripted judge.

    python benchmarks/rank_cost.py [--n 4 8] [--k 1 3] [--groups 3]

Starts judgekit.testing.ScriptedJudgeServer on 127.0.0.1 (real HTTP), ranks groups of n responses
with a rubric of K principle criteria (one criterion per call, cache off), and prints the measured
calls per group next to the formula in docs/pairwise-and-ranking.md.
"""

from __future__ import annotations

import argparse
import time

from judgekit import Judge, rank_group, rubric_from_data
from judgekit.testing import Script, ScriptedJudgeServer, ServerState

FORMULA = {
    "pointwise": lambda n, k: n * k,
    "anchor (reference)": lambda n, k: 2 * k * n,
    "anchor (responses[0])": lambda n, k: 2 * k * (n - 1),
    "round_robin": lambda n, k: k * n * (n - 1),
}


def _level(text: str) -> int:
    return int(text.rsplit(" ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--groups", type=int, default=3)
    args = parser.parse_args()

    script = Script(
        met=lambda cid, r: _level(r) % 2 == 0,
        prefer=lambda cid, a, b: "A" if _level(a) > _level(b) else "B" if _level(b) > _level(a) else "tie",
    )
    print(f"{'strategy':24} {'n':>3} {'K':>3} {'calls/group':>12} {'formula':>8} {'sec/group':>10}")
    with ScriptedJudgeServer(ServerState(script=script, record=False)) as server, \
            Judge("openai:scripted", base_url=server.base_url, cache=False, concurrency=32) as judge:
            for k in args.k:
                rubric = rubric_from_data([{"id": f"c{i}", "text": f"criterion {i}"} for i in range(k)])
                for n in args.n:
                    for name, formula in FORMULA.items():
                        strategy = name.split(" ")[0]
                        reference = "reference 3" if name == "anchor (reference)" else None
                        calls, started = [], time.perf_counter()
                        for g in range(args.groups):
                            responses = [f"response {g}-{i} {i}" for i in range(n)]
                            out = judge.run(rank_group(judge, rubric, f"prompt {g}", responses,
                                                       strategy=strategy, reference=reference))
                            assert len(out.rewards) == n
                            calls.append(out.calls)
                        per_group = sum(calls) / len(calls)
                        seconds = (time.perf_counter() - started) / args.groups
                        print(f"{name:24} {n:>3} {k:>3} {per_group:>12.1f} {formula(n, k):>8} {seconds:>10.3f}")
                # One pair through compare: 2K calls.
                before = judge.stats.calls
                judge.compare([{"prompt": "p", "response_a": "x 1", "response_b": "y 2"}], rubric)
                print(f"{'compare (one pair)':24} {2:>3} {k:>3} {judge.stats.calls - before:>12.1f} {2 * k:>8}")


if __name__ == "__main__":
    main()
