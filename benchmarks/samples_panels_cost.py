"""Judge calls per row with repeated samples and with panels, counted at scripted judges.

    python benchmarks/samples_panels_cost.py [--rows 8] [--k 3]

Starts one judgekit.testing.ScriptedJudgeServer per panel judge on 127.0.0.1 (real HTTP): a
consistent judge, one that always prefers the response shown first ("A"), and one that answers
every call with a 500. Scores and compares rows with a rubric of K criteria (one per call) and
prints the requests each server received per row: first with an empty cache, then the same run
again (served by the cache).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable

from judgekit import Judge, Panel, Rubric, rubric_from_data
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState


def _by_content(cid: str, a: str, b: str) -> str:
    return "A" if "yes" in a and "yes" not in b else "B" if "yes" in b and "yes" not in a else "tie"


def _servers() -> dict[str, ScriptedJudgeServer]:
    return {
        "good": ScriptedJudgeServer(ServerState(script=Script(met=lambda c, r: "yes" in r, prefer=_by_content), record=False)),
        "biased": ScriptedJudgeServer(ServerState(script=Script(prefer=lambda c, a, b: "A"), record=False)),
        "failing": ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0), record=False)),
    }


def _count(servers: dict[str, ScriptedJudgeServer], run: Callable[[], object]) -> dict[str, int]:
    before = {n: s.state.count for n, s in servers.items()}
    run()
    return {n: s.state.count - before[n] for n, s in servers.items()}


def _measure(name: str, make: Callable[[str], Judge], servers: dict[str, ScriptedJudgeServer], rubric: Rubric,
             rows: int) -> None:
    scored = [{"prompt": "q", "response": "yes" if i % 2 else "no"} for i in range(rows)]
    pairs = [{"prompt": "q", "response_a": "yes", "response_b": "no"} for _ in range(rows)]
    with tempfile.TemporaryDirectory() as cache:
        for what, do in (("score", lambda j: j.score(scored, rubric)), ("compare", lambda j: j.compare(pairs, rubric))):
            for attempt in ("first run", "rerun"):
                with make(cache) as judge:
                    counts = _count(servers, lambda: do(judge))  # noqa: B023 (used at once)
                per_row = ", ".join(f"{n} {c / rows:g}" for n, c in counts.items() if c)
                print(f"{name:40s} {what:8s} {attempt:9s} calls per row: {per_row or '0'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    rubric = rubric_from_data({"name": "cost", "criteria": [{"id": f"c{i}", "text": f"Criterion {i}."} for i in range(args.k)]})
    servers = _servers()
    for s in servers.values():
        s.__enter__()
    try:
        def member(n: str) -> dict[str, str]:
            return {"judge": f"openai:{n}", "base_url": servers[n].base_url}

        setups: dict[str, Callable[[str], Judge]] = {
            "one judge": lambda c: Judge("openai:good", base_url=servers["good"].base_url, cache_dir=c),
            "one judge, --samples 3": lambda c: Judge("openai:good", base_url=servers["good"].base_url, cache_dir=c, samples=3),
            "panel good+biased+failing": lambda c: Panel([member("good"), member("biased"), member("failing")], cache_dir=c),
            "same panel, --max-attempts 1": lambda c: Panel([member(n) for n in servers], cache_dir=c, max_attempts=1),
            "same panel, --samples 3, max-attempts 1": lambda c: Panel([member(n) for n in servers], cache_dir=c,
                                                                      max_attempts=1, samples=3),
        }
        print(f"K = {args.k} criteria, one per call; {args.rows} rows")
        for name, make in setups.items():
            _measure(name, make, servers, rubric, args.rows)
    finally:
        for s in servers.values():
            s.__exit__()


if __name__ == "__main__":
    main()
