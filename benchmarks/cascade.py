"""Cost per reward and agreement with always asking the strong judge, for a confidence cascade.

    python benchmarks/cascade.py [--pairs 60] [--data PATH/llmbar/natural.json]

Two scripted judges on 127.0.0.1 (judgekit.testing, real HTTP), priced as two list-price models
(openai:gpt-4o-mini and openai:gpt-4o; token counts estimated from the texts): a strong judge that
names LLMBar's labelled winner on 90% of the pairs, and a cheap one right on 65%, sure of itself
(P 0.92 for its verdict) on most pairs it gets right and unsure (P 0.6) on most it gets wrong, with
a share of confident mistakes. Each setup compares the same LLMBar pairs (both orders, one
criterion) and prints the judge calls and cost per pair (one reward each; a cascade's sampled check
counted apart), accuracy against the human label
and agreement with the strong judge's winners; the cascades also measure that agreement themselves
on a sample (check_rate).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from judgekit import Judge, JudgeSpec, rubric_from_data
from judgekit.testing import Script, ScriptedJudgeServer, ServerState

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmbar" / "natural.json"
RUBRIC = rubric_from_data({"name": "llmbar", "criteria": [
    {"id": "better", "text": "Follows the instruction faithfully, precisely and correctly."}]})


def _draw(a: str, b: str, salt: str) -> float:
    """A number in [0, 1) fixed for a pair whatever its order."""
    text = "\x00".join(sorted((a, b))) + salt
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


class _Judges:
    """The scripts of the two judges over the pairs' gold winners."""

    def __init__(self, gold: set[str]) -> None:
        self.gold = gold

    def _pick(self, a: str, b: str, right: bool) -> str:
        a_wins = (a in self.gold) == right
        return "A" if a_wins else "B"

    def strong(self, cid: str, a: str, b: str) -> str:
        return self._pick(a, b, _draw(a, b, "strong") >= 0.10)

    def cheap(self, cid: str, a: str, b: str) -> str:
        return self._pick(a, b, _draw(a, b, "cheap") >= 0.35)

    def cheap_confidence(self, cid: str, verdict: Any, texts: dict[str, str]) -> float:
        a, b = texts.get("response-a", ""), texts.get("response-b", "")
        right = _draw(a, b, "cheap") >= 0.35
        doubt = _draw(a, b, "doubt")
        sure = doubt >= 0.15 if right else doubt < 0.20  # some right answers unsure, some mistakes confident
        return 0.92 if sure else 0.6


def _pairs(path: Path, n: int) -> list[dict[str, Any]]:
    records = json.loads(path.read_text(encoding="utf-8"))[:n]
    return [{"id": i, "prompt": r["input"], "response_a": r["output_1"], "response_b": r["output_2"],
             "label": "A" if r["label"] == 1 else "B"} for i, r in enumerate(records)]


def _run(judge: Judge, pairs: list[dict[str, Any]]) -> tuple[list[str | None], dict[str, Any]]:
    with judge:
        results = judge.compare([{k: v for k, v in p.items() if k != "label"} for p in pairs], RUBRIC)
        cascade = judge.cascade.as_dict() if judge.cascade is not None else None
        # A cascade's own calls and cost are its levels'; the sampled check's are counted apart.
        levels = cascade["levels"] if cascade is not None else []
        calls = sum(lv["calls"] for lv in levels) if levels else judge.stats.calls
        cost = sum(lv["cost_usd"] for lv in levels) if levels else judge.cost_usd or 0.0
        figures = {"calls": calls / len(pairs), "cost": cost / len(pairs), "cascade": cascade}
    return [r.winner for r in results], figures


def _check(check: dict[str, Any]) -> str:
    if not check["checked"]:
        return "nothing decided early"
    return f"{check['agreement']:.0%} of {check['checked']} verdicts, +{check['calls']} calls"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    pairs = _pairs(args.data, args.pairs)
    scripts = _Judges({p["response_a"] if p["label"] == "A" else p["response_b"] for p in pairs})
    cheap_state = ServerState(script=Script(prefer=scripts.cheap), verdict_confidence=scripts.cheap_confidence,
                              estimate_tokens=True, record=False)
    strong_state = ServerState(script=Script(prefer=scripts.strong), estimate_tokens=True, record=False)
    with ScriptedJudgeServer(cheap_state) as cheap, ScriptedJudgeServer(strong_state) as strong:
        small = {"judge": "openai:gpt-4o-mini", "base_url": cheap.base_url}
        large = {"judge": "openai:gpt-4o", "base_url": strong.base_url}
        setups: dict[str, Judge] = {
            "always strong (gpt-4o)": Judge("openai:gpt-4o", base_url=strong.base_url, cache=False),
            "always cheap (gpt-4o-mini)": Judge("openai:gpt-4o-mini", base_url=cheap.base_url, cache=False),
            **{f"cascade, threshold {t:g}": Judge(JudgeSpec(cascade=[small, large], threshold=t, check_rate=0.25, cache=False))
               for t in (0.5, 0.8, 0.95)},
        }
        winners: dict[str, list[str | None]] = {}
        print(f"{len(pairs)} LLMBar pairs ({args.data.name}), both orders, 1 criterion; cost at list price\n")
        print(f"{'setup':30} {'calls/pair':>10} {'$/reward':>10} {'accuracy':>9} {'agrees w/ strong':>17}  levels (decided share)")
        for name, judge in setups.items():
            got, figures = _run(judge, pairs)
            winners[name] = got
            strong_winners = winners["always strong (gpt-4o)"]
            accuracy = sum(w == p["label"] for w, p in zip(got, pairs)) / len(pairs)
            agrees = sum(w == s for w, s in zip(got, strong_winners)) / len(pairs)
            cascade = figures["cascade"]
            levels = "" if cascade is None else ", ".join(
                f"{lv['judge']} {lv['share']:.0%}" for lv in cascade["levels"]) + (
                f"; sampled check: {_check(cascade['check'])}" if cascade.get("check") else "")
            print(f"{name:30} {figures['calls']:10.2f} {figures['cost']:10.6f} {accuracy:9.1%} {agrees:17.1%}  {levels}")


if __name__ == "__main__":
    main()
