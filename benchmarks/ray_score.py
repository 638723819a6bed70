"""`judgekit score` in one process and `judgekit score --ray` on a local Ray instance, side by side on
the same file and the same scripted judge (fixed latency): wall time of each, the run summaries
(rows, calls), and whether the two output files are identical.

The Ray instance is started once here (its start-up time printed apart) and the --ray run joins it
through RAY_ADDRESS, as a run on a cluster would; its wall time includes starting the actors.

    python benchmarks/ray_score.py [--rows 200] [--latency 0.05] [--concurrency 16] [--actors 2] [--shard-rows 50]
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

import ray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _judge_server import judge_server

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = "name: bench\ncriteria:\n  - id: a\n    text: Answers the question.\n  - id: b\n    text: Is short.\n"


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "score", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=str(ROOT), check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"judgekit score {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done.stderr[done.stderr.rfind("done:"):].strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=50)
    a = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="judgekit-ray-bench-"))
    data, rubric = folder / "in.jsonl", folder / "r.yaml"
    data.write_text("".join(json.dumps({"id": i, "prompt": f"Question {i}?", "response": f"Answer {i}."}) + "\n"
                            for i in range(a.rows)))
    rubric.write_text(RUBRIC)
    started = time.perf_counter()
    address = ray.init(num_cpus=2, include_dashboard=False).address_info["address"]
    print(f"rows={a.rows} criteria=2 latency={a.latency}s concurrency={a.concurrency} actors={a.actors} "
          f"shard-rows={a.shard_rows}; ray.init {time.perf_counter() - started:.1f}s")
    with judge_server(a.latency) as base_url:
        common = [str(data), "--rubric", str(rubric), "--judge", "openai:bench", "--base-url", base_url, "--no-cache",
                  "--concurrency", str(a.concurrency)]
        single_wall, single = run_cli([*common, "-o", str(folder / "single.jsonl")], {"OPENAI_API_KEY": "bench-not-a-key"})
        ray_wall, on_ray = run_cli([*common, "-o", str(folder / "ray.jsonl"), "--ray", "--ray-actors", str(a.actors),
                                    "--ray-shard-rows", str(a.shard_rows)],
                                   {"OPENAI_API_KEY": "bench-not-a-key", "RAY_ADDRESS": address})
    ray.shutdown()
    same = (folder / "single.jsonl").read_bytes() == (folder / "ray.jsonl").read_bytes()
    print(f"single process: {single_wall:.1f}s wall\n  {single}")
    print(f"--ray:          {ray_wall:.1f}s wall\n  {on_ray}")
    print(f"outputs identical: {same}; --ray / single wall: {ray_wall / single_wall:.2f}")


if __name__ == "__main__":
    main()
