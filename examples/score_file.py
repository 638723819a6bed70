"""Score a JSONL file with the Python API and print the mean reward and per-criterion pass rates.

    python examples/score_file.py                                   # embedded judge, example data
    python examples/score_file.py data.jsonl rubrics/helpfulness.yaml --judge openai:Qwen/Qwen3-8B --base-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import judgekit
from judgekit import read_jsonl

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=str(HERE / "data" / "chat.jsonl"))
    parser.add_argument("rubric", nargs="?", default=str(HERE.parent / "rubrics" / "helpfulness.yaml"))
    parser.add_argument("--judge", default="local")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    rubric = judgekit.load_rubric(args.rubric)
    rows = read_jsonl(args.data, required=("prompt", "response"))
    with judgekit.Judge(args.judge, base_url=args.base_url, concurrency=args.concurrency) as judge:
        results = judge.score(rows, rubric)
        stats = judge.stats

    for result in results:
        print(json.dumps(result.model_dump()))
    rewards = [r.reward for r in results if r.reward is not None]
    print(f"\nmean reward {sum(rewards) / max(1, len(rewards)):.3f} over {len(rewards)} of {len(results)} rows")
    for cid in rubric.ids:
        scored = [r.scores[cid] for r in results if r.scores.get(cid) is not None]
        print(f"  {cid:<24} met {sum(scored)}/{len(scored)}")
    print(f"judge calls {stats.calls}, cache hits {stats.cache_hits}, tokens {stats.prompt_tokens}+{stats.completion_tokens}")


if __name__ == "__main__":
    main()
