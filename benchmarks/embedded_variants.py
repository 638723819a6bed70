"""Accuracy of embedded-judge variants on the first LLMBar-natural pairs, each judged in both orders.

    python benchmarks/embedded_variants.py [../shared/data/llmbar/natural.json] [--pairs 50] [--variants a,b,c]

Every variant goes through the public API, `judgekit.Judge("local", profile=...).compare(...)`, which
asks each pair in both orders (A,B then B,A) and maps the second back, with the one-criterion rubric
embedded_profiles/follows.yaml:
  a  default:  the built-in judgekit profile (JSON verdicts under a grammar), as `judgekit compare`
  b  few-shot: the same with three worked examples before the pair (embedded_profiles/fewshot-json.yaml)
  c  A/B:      the same three examples as earlier chat turns (user: the pair, assistant: "A" or "B"),
               then the pair (embedded_profiles/ab-fewshot.yaml): the base model answers with its first
               token. Each order is decided by P(A) against P(B) at that token (the profile's soft
               reader on the embedded judge's first-token log-probabilities); orders that disagree are a
               tie. c-soft decides by the mean over both orders of P(A is better): A above 0.5. One
               chat-turn prompt is not something a profile template can render, so c calls the backend
               (LocalLlamaBackend.complete) and the profile's parser itself instead of Judge.compare.
Columns: accuracy = winner equals the label (a tie or unscored counts wrong); ties; consistent = share
of pairs whose two orders agree after mapping back (a position-inconsistent pair is a tie); unscored
pairs; seconds. Baselines: always-A picks the first output in the original order (accuracy = share of
label 1; over both orders it is never consistent); coin-flip is a seeded simulation, one flip per order,
combined like a judge's two orders (disagreeing flips: a tie).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import judgekit  # noqa: E402
from judgekit import (  # noqa: E402
    CompareResult,
    JudgeProfile,
    JudgeRequest,
    LocalLlamaBackend,
    load_profile,
    pairwise_messages,
)

PROFILES = ROOT / "benchmarks" / "embedded_profiles"
VARIANTS = {"a": "judgekit", "b": str(PROFILES / "fewshot-json.yaml"), "c": str(PROFILES / "ab-fewshot.yaml")}
CID = "follows"
# The worked examples of embedded_profiles/fewshot_examples.j2: (instruction, A, B, better).
EXAMPLES = [
    ('Give three synonyms for "happy".', "Joyful, cheerful, content.",
     "Happy is a feeling that people have when good things happen.", "A"),
    ('Translate "good morning" into French.', 'In Spanish, "good morning" is "buenos días".', "Bonjour.", "B"),
    ("Write one sentence about the sea.",
     "Mountains are the highest places on Earth, and many people climb them every year.",
     "The sea glittered under the morning sun.", "B"),
]


@dataclass
class Row:
    name: str
    correct: int
    ties: int
    consistent: int | None
    unscored: int
    seconds: float | None


def load_pairs(path: Path, n: int) -> tuple[list[dict[str, str]], list[str]]:
    data = json.loads(path.read_text())[:n]
    rows = [{"id": str(i), "prompt": d["input"], "response_a": d["output_1"], "response_b": d["output_2"]}
            for i, d in enumerate(data)]
    return rows, ["A" if d["label"] == 1 else "B" for d in data]


def summarize(name: str, results: list[CompareResult], labels: list[str], seconds: float) -> Row:
    unscored = sum(1 for r in results if r.winner is None)
    return Row(name, sum(r.winner == lab for r, lab in zip(results, labels)), sum(r.winner == "tie" for r in results),
               sum(1 for r in results if r.winner is not None and CID not in r.inconsistent), unscored, seconds)


def baselines(labels: list[str], seed: int = 0) -> list[Row]:
    rng = random.Random(seed)
    flips = [(rng.choice("AB"), rng.choice("AB")) for _ in labels]  # the second order's pick, mapped back
    coin = [a if a == b else "tie" for a, b in flips]
    return [Row("always-A", labels.count("A"), 0, 0, 0, None),
            Row("coin-flip", sum(w == lab for w, lab in zip(coin, labels)), coin.count("tie"),
                sum(a == b for a, b in flips), 0, None)]


def _messages(profile: JudgeProfile, rubric: judgekit.Rubric, prompt: str, a: str, b: str) -> list[dict[str, str]]:
    return pairwise_messages(prompt=prompt, response_a=a, response_b=b, criteria=list(rubric.criteria), reference=None,
                             rubric_name=rubric.name, rubric_description=rubric.description, profile=profile)


def p_first_better(backend: LocalLlamaBackend, profile: JudgeProfile, rubric: judgekit.Rubric, prompt: str,
                   a: str, b: str) -> float | None:
    """P(A) / (P(A) + P(B)) at the first generated token, or None when the answer does not start with A or B."""
    shots: list[dict[str, str]] = []
    for instruction, ex_a, ex_b, better in EXAMPLES:
        shots += [*_messages(profile, rubric, instruction, ex_a, ex_b), {"role": "assistant", "content": better}]
    request = JudgeRequest(tuple(shots + _messages(profile, rubric, prompt, a, b)), None, "pairwise", (CID,),
                           max_tokens=16, logprobs=True)
    dist = profile.distribution(asyncio.run(backend.complete(request)), "pairwise", CID)
    return None if dist is None else dist.get("A", 0.0)


def run_ab(rows: list[dict[str, str]], labels: list[str], rubric: judgekit.Rubric) -> list[Row]:
    profile, backend = load_profile(VARIANTS["c"]), LocalLlamaBackend()
    started = time.perf_counter()
    orders = [(p_first_better(backend, profile, rubric, r["prompt"], r["response_a"], r["response_b"]),
               p_first_better(backend, profile, rubric, r["prompt"], r["response_b"], r["response_a"])) for r in rows]
    seconds = time.perf_counter() - started
    pick: list[str | None] = []
    soft: list[str | None] = []
    for p1, p2 in orders:
        if p1 is None or p2 is None:
            pick.append(None)
            soft.append(None)
            continue
        first, second = ("A" if p1 > 0.5 else "B"), ("B" if p2 > 0.5 else "A")  # the second mapped back
        pick.append(first if first == second else "tie")
        mean = (p1 + 1 - p2) / 2
        soft.append("A" if mean > 0.5 else "B" if mean < 0.5 else "tie")
    consistent = sum(1 for w in pick if w in ("A", "B"))
    return [Row("c A/B", sum(w == lab for w, lab in zip(pick, labels)), pick.count("tie"), consistent,
                pick.count(None), seconds),
            Row("c-soft", sum(w == lab for w, lab in zip(soft, labels)), soft.count("tie"), None, soft.count(None), seconds)]


def run_variant(key: str, rows: list[dict[str, str]], rubric: judgekit.Rubric) -> tuple[list[CompareResult], float]:
    with judgekit.Judge("local", profile=VARIANTS[key], cache=False) as judge:
        started = time.perf_counter()
        results = judge.compare(rows, rubric)
        return results, time.perf_counter() - started


def table(out: list[Row], n: int) -> str:
    lines = [f"| variant ({n} pairs, both orders) | accuracy | ties | consistent | unscored | seconds |",
             "|---|---|---|---|---|---|"]
    for r in out:
        consistent = "n/a" if r.consistent is None else f"{r.consistent}/{n}"
        seconds = "" if r.seconds is None else f"{r.seconds:.0f}"
        lines.append(f"| {r.name} | {r.correct / n:.0%} ({r.correct}/{n}) | {r.ties} | {consistent} | {r.unscored} | {seconds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "llmbar" / "natural.json")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--variants", default="a,b,c")
    args = parser.parse_args()
    rows, labels = load_pairs(args.data, args.pairs)
    rubric = judgekit.load_rubric(PROFILES / "follows.yaml")
    out = baselines(labels)
    for key in args.variants.split(","):
        if key == "c":
            out += run_ab(rows, labels, rubric)
            continue
        results, seconds = run_variant(key, rows, rubric)
        out.append(summarize({"a": "a default", "b": "b few-shot"}[key], results, labels, seconds))
    print(table(out, len(labels)))


if __name__ == "__main__":
    main()
