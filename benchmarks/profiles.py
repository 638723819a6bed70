"""Judge profiles: parse rates on well-formed and malformed native answers, and the cost of
pair-adaptive criteria, measured against the scripted judge on 127.0.0.1 (real HTTP).

    python benchmarks/profiles.py [--rows 20] [--pairs 10]

1. For every profile and mode, --rows answers in the well-formed native format, then the same
   number in each malformed variant (judgekit.testing.native.MALFORMED; the server keeps answering
   malformed, so the re-ask fails too). Prints the share of criteria scored, and of unscored ones
   that carry a reason. Well-formed should be 100%, malformed 0% scored / 100% with a reason.
2. --pairs LLMBar (natural) pairs from ../shared/data compared with rubrics/helpfulness.yaml, with
   and without --adaptive rubrics/meta/pairwise.yaml (the scripted writer proposes 3 criteria,
   one of them positional, so 2 are kept): judge calls and tokens per pair. Tokens are estimated by
   the server from the texts (4 characters per token), so they show prompt growth, not a tokenizer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from judgekit import Judge, PairItem, Rubric, load_rubric, read_pairs
from judgekit.testing import MALFORMED, Script, ScriptedJudgeServer, ServerState

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = Rubric(name="b", criteria=[{"id": "correct", "text": "The answer is correct."},
                                    {"id": "polite", "text": "The answer is polite."}])


def _rate(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def parse_rates(rows: int) -> None:
    script = Script(met=lambda c, r: "4" in r, prefer=lambda c, a, b: "A" if "4" in a else "B")
    print("| profile | mode | answers | variant | criteria | scored | unscored with a reason |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for profile in ["rm-r1", "prometheus2", "rubric-rm", "yes-no"]:
        for mode in ("pointwise", "pairwise"):
            for variant in [None, *MALFORMED[profile][mode]]:
                state = ServerState(script=script, malformed=variant, record=False)
                with ScriptedJudgeServer(state) as server, Judge(
                        "openai:judge", base_url=server.base_url, profile=profile, cache=False, max_reasks=1,
                        concurrency=16) as judge:
                    if mode == "pointwise":
                        results = judge.score([{"prompt": "2+2?", "response": str(3 + i % 2)} for i in range(rows)], RUBRIC)
                        values = [v for r in results for k, v in r.scores.items() if k in RUBRIC.ids]
                        reasons = [r.unscored.get(k) for r in results for k in RUBRIC.ids if r.scores[k] is None]
                    else:
                        results = judge.compare([{"prompt": "2+2?", "response_a": "4", "response_b": "5"}] * rows, RUBRIC)
                        values = [v for r in results for k, v in r.preferences.items() if k in RUBRIC.ids]
                        reasons = [r.unscored.get(k) for r in results for k in RUBRIC.ids if r.preferences[k] is None]
                scored = sum(v is not None for v in values)
                print(f"| {profile} | {mode} | {'well-formed' if variant is None else 'malformed'} | {variant or '-'} | "
                      f"{len(values)} | {_rate(scored, len(values))} | "
                      f"{_rate(sum(bool(r) for r in reasons), len(reasons))} |")


def _writer(body: dict) -> dict:
    return {"criteria": [
        {"category": "correctness", "text": "The response's answer is factually right for this request."},
        {"category": "instruction_following", "text": "The response does exactly what the instruction asks, no more."},
        {"category": "clarity", "text": "Response A is easier to read than Response B."},
    ]}


def adaptive_cost(pairs_n: int) -> None:
    pairs = read_pairs(ROOT.parent / "shared" / "data" / "llmbar" / "natural.json", "llmbar", limit=pairs_n, seed=0)
    rubric = load_rubric(ROOT / "rubrics" / "helpfulness.yaml")
    meta = ROOT / "rubrics" / "meta" / "pairwise.yaml"
    print("\n| rubric | criteria per pair | calls per pair | prompt tokens per pair | completion tokens per pair |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, base, adaptive in [("helpfulness (fixed)", rubric, None), ("helpfulness + adaptive", rubric, meta),
                                  ("adaptive only", None, meta)]:
        state = ServerState(script=Script(generate=_writer, prefer=lambda c, a, b: "A"), estimate_tokens=True, record=False)
        with ScriptedJudgeServer(state) as server, Judge("openai:judge", base_url=server.base_url, cache=False,
                                                         concurrency=16) as judge:
            outs = [judge.run(judge.compare_pair(base, PairItem(p.prompt, p.response_a, p.response_b), adaptive=adaptive))
                    for p in pairs]
            s = judge.stats
        criteria = sum(len(o.preferences) for o in outs) / len(outs)
        n = len(pairs)
        print(f"| {label} | {criteria:.1f} | {s.calls / n:.1f} | {s.prompt_tokens / n:.0f} | {s.completion_tokens / n:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    parse_rates(args.rows)
    adaptive_cost(args.pairs)


if __name__ == "__main__":
    main()
