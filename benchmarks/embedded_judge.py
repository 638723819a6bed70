"""Seconds per verdict of the embedded default judge (llama.cpp + the packaged 270M GGUF model).

    python benchmarks/embedded_judge.py [--rows 4]

Prints the model process start-up (load) time, then seconds per verdict with one and with two model
processes (the CPU's threads split between them), one criterion per call, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import judgekit  # noqa: E402
from judgekit import (  # noqa: E402
    LocalLlamaBackend,
    read_jsonl,
)


def run(rows: list, rubric: judgekit.Rubric, workers: int) -> tuple[float, float, int]:
    backend = LocalLlamaBackend(workers=workers)
    with judgekit.Judge("local", backend=backend, cache=False, concurrency=workers) as judge:
        started = time.perf_counter()
        judge.score(rows[:1], rubric)  # starts the first model process: its load time
        load = time.perf_counter() - started
        started = time.perf_counter()
        results = judge.score(rows, rubric)
        wall = time.perf_counter() - started
    verdicts = sum(1 for r in results for cid, s in r.scores.items()
                   if s is not None and rubric.criterion(cid).judged_by_model)
    return load, wall, verdicts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6)
    args = parser.parse_args()
    rubric = judgekit.load_rubric(ROOT / "rubrics" / "helpfulness.yaml")
    rows = read_jsonl(ROOT / "examples" / "data" / "chat.jsonl", required=("prompt", "response"))
    rows = (rows * (args.rows // len(rows) + 1))[: args.rows]
    for workers in (1, 2, 1, 2):  # alternated, so drift in the machine's speed hits both alike
        load, wall, verdicts = run(rows, rubric, workers)
        print(f"workers={workers} threads/worker={LocalLlamaBackend(workers=workers).n_threads} "
              f"first call incl. load={load:.2f}s rows={len(rows)} verdicts={verdicts} wall={wall:.1f}s "
              f"s/verdict={wall / max(1, verdicts):.2f} verdicts/s={verdicts / wall:.2f}", flush=True)


if __name__ == "__main__":
    main()
