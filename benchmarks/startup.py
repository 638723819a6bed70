"""Start-up time of the command line: `judgekit --help` and `judgekit score` on an empty file, against
`python -c "import aiohttp"` (the HTTP client every judge call needs), in the same environment.

Each round runs the three commands once, in turn (so a busy moment of the machine falls on all of
them), `--rounds` times; prints each one's median wall time and its ratio to the aiohttp import (the
goal for `score` is at most 2), and the same for the CPU time the process used (user + system),
which a machine busy with other work disturbs much less than the wall time. `score` runs against
the scripted judge server (its own process on 127.0.0.1), so that its server check before the first
row is a real HTTP call. The judgekit measured is this checkout's (the commands run in it).

    python benchmarks/startup.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _judge_server import judge_server
from _timed import timed

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT), "OPENAI_API_KEY": "sk-bench"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an install: judgekit's bytecode written once, as aiohttp's is
    with tempfile.TemporaryDirectory() as tmp, judge_server(0.0) as base_url:
        empty = Path(tmp) / "empty.jsonl"
        empty.write_text("")
        commands = {
            'python -c "import aiohttp"': [sys.executable, "-c", "import aiohttp"],
            "judgekit --help": [sys.executable, "-m", "judgekit", "--help"],
            "judgekit score EMPTY.jsonl": [sys.executable, "-m", "judgekit", "score", str(empty), "--rubric",
                                           str(ROOT / "rubrics" / "helpfulness.yaml"), "--judge", "openai:m",
                                           "--base-url", base_url, "-o", str(Path(tmp) / "out.jsonl")],
        }
        for command in commands.values():  # warm the file cache and the bytecode
            timed(command, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command, env))
    print(f"judgekit from PYTHONPATH={env['PYTHONPATH']}; {args.rounds} rounds, medians")
    for k, what in enumerate(("wall time", "CPU time")):
        print(f" {what}")
        base = statistics.median(t[k] for t in times['python -c "import aiohttp"'])
        for name, runs in times.items():
            seconds = [t[k] for t in runs]
            median = statistics.median(seconds)
            print(f"  {name:<28} {median:6.3f} s   x{median / base:4.2f}   (min {min(seconds):.3f}, max {max(seconds):.3f})")


if __name__ == "__main__":
    main()
