"""Seconds per verdict of the embedded default judge (llama.cpp + the packaged 270M GGUF model).

    python benchmarks/embedded_judge.py [--rows 4]
Prints model load time, seconds per verdict (one criterion per call) and per call with all criteria.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import judgekit  # noqa: E402
from judgekit.backends.local_llama import _load, default_model_path  # noqa: E402
from judgekit.rows import read_jsonl  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args()
    rubric = judgekit.load_rubric(ROOT / "rubrics" / "helpfulness.yaml")
    rows = read_jsonl(ROOT / "examples" / "data" / "chat.jsonl", required=("prompt", "response"))[: args.rows]

    started = time.perf_counter()
    _load(default_model_path(), 8192)
    print(f"model load: {time.perf_counter() - started:.2f}s")

    for per_call in ("one", "all"):
        with judgekit.Judge("local", cache=False, criteria_per_call=per_call) as judge:
            started = time.perf_counter()
            results = judge.score(rows, rubric)
            wall = time.perf_counter() - started
            verdicts = sum(1 for r in results for cid, s in r.scores.items() if s is not None and rubric.criterion(cid).judged_by_model)
            st = judge.stats
        print(f"criteria-per-call={per_call:<3} rows={len(rows)} calls={st.calls} verdicts={verdicts} "
              f"wall={wall:.1f}s  s/verdict={wall / max(1, verdicts):.2f}  s/call={wall / max(1, st.calls):.2f}  "
              f"unscored={sum(len(r.unscored) for r in results)}  tokens={st.prompt_tokens}+{st.completion_tokens}")


if __name__ == "__main__":
    main()
