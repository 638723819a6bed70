"""Reproduce generate -> refine -> held-out eval on public preference data, for any judge.

    python benchmarks/rubric_methods.py --data llmbar-natural --n 40 --judge openai:MODEL --base-url URL
    python benchmarks/rubric_methods.py --data pandalm --n 40 --scripted      (the scripted judge on 127.0.0.1)
    python benchmarks/rubric_methods.py --data llmbar-adversarial --n 8 --judge local   (the embedded model)

Data (read in place from ../shared/data): llmbar-natural, llmbar-adversarial (the four adversarial
sets pooled), pandalm (majority of the three annotators; ties left out). A seeded sample of --n
pairs is split in two halves: the first half writes the rubric (`rubric generate --pairs`,
contrastive) and refines it (`rubric refine --holdout 0`: every refine decision sees only this
half); the second half is only judged (`judgekit eval`), with the generated rubric, the refined one
and the refined one with uniform weights. Prints one Markdown row per rubric: held-out accuracy
and its 95% CI (seeded bootstrap), judge calls.

With --scripted, the judge is judgekit.testing's scripted server: its verdicts are a fixed hash of
(criterion, response), unrelated to quality, so its figures measure the pipeline (calls, and that
refine changes nothing on noise), never a judge: accuracy should sit near chance. The same command
with --judge/--base-url of a real model gives that model's figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from judgekit.testing import Script, ScriptedJudgeServer, ServerState

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SETS = {
    "llmbar-natural": ["llmbar/natural.json"],
    "llmbar-adversarial": [f"llmbar/adversarial-{n}.json" for n in ("neighbor", "gptinst", "gptout", "manual")],
    "pandalm": ["pandalm/testset-v1.json"],
}
GENERIC = [  # what the scripted writer proposes (a real judge writes its own)
    {"id": "follows_instruction", "text": "The response does what the instruction asks.", "kind": "principle", "weight": 3},
    {"id": "correct", "text": "The response's claims are correct.", "kind": "principle", "weight": 2},
    {"id": "keeps_format", "text": "The response keeps every format the instruction states.", "kind": "hard_rule", "weight": 1},
]


def _bit(*parts: str) -> bool:
    return hashlib.sha256("\x00".join(parts).encode()).digest()[0] % 2 == 1


def scripted_state() -> ServerState:
    return ServerState(record=False, script=Script(
        met=lambda cid, response: _bit(cid, response),
        prefer=lambda cid, a, b: "A" if _bit(cid, a) and not _bit(cid, b) else "B" if _bit(cid, b) and not _bit(cid, a) else "tie",
        generate=lambda body: {"criteria": GENERIC},
    ))


def load_pairs(name: str) -> list[dict[str, Any]]:
    """Rows in the source's own format (LLMBar: input/output_1/output_2/label 1|2)."""
    rows: list[dict[str, Any]] = []
    for rel in SETS[name]:
        for rec in json.loads((DATA / rel).read_text(encoding="utf-8")):
            if name == "pandalm":
                votes = [rec[f"annotator{k}"] for k in (1, 2, 3)]
                label = max((1, 2), key=votes.count)
                if votes.count(label) < 2:
                    continue  # no majority, or a majority of ties
                prompt = rec["instruction"] + (f"\n\n{rec['input']}" if rec.get("input") else "")
                rec = {"input": prompt, "output_1": rec["response1"], "output_2": rec["response2"], "label": label}
            rows.append(rec)
    return rows


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "judgekit", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if res.returncode != 0:
        sys.exit(f"judgekit {args[0]} {args[1] if len(args) > 1 else ''} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return res


def calls_of(stderr: str) -> str:
    line = next((ln for ln in stderr.splitlines() if "judge calls:" in ln), "")
    return line.split("judge calls:")[1].split()[0] if line else "?"


def run(args: argparse.Namespace, judge: list[str], env: dict[str, str], work: Path) -> None:
    rows = load_pairs(args.data)
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.n]
    half = len(rows) // 2
    fit, test = work / "fit.json", work / "test.json"
    fit.write_text(json.dumps(rows[:half]), encoding="utf-8")
    test.write_text(json.dumps(rows[half:]), encoding="utf-8")
    generated, refined, uniform = work / "generated.yaml", work / "refined.yaml", work / "uniform.yaml"
    if args.rubric:  # start from a given rubric (a judge too small to write one)
        generated.write_text(Path(args.rubric).read_text(encoding="utf-8"), encoding="utf-8")
        steps = {"generate": subprocess.CompletedProcess([], 0, "", "judge calls: 0")}
    else:
        steps = {"generate": cli("rubric", "generate", str(fit), "--pairs", "-o", str(generated), "--max-tries", "2", *judge, env=env)}
    steps["refine"] = cli("rubric", "refine", str(fit), "--rubric", str(generated), "-o", str(refined), "--holdout", "0",
                          "--report-json", str(work / "refine.json"), *judge, env=env)
    cli("rubric", "refine", str(fit), "--rubric", str(generated), "-o", str(uniform), "--holdout", "0", "--weights", "uniform",
        *judge, env=env)
    refine_report = json.loads((work / "refine.json").read_text(encoding="utf-8"))
    print(f"{args.data}: {len(rows)} pairs, {half} to write and refine the rubric, {len(rows) - half} held out; "
          f"generate {calls_of(steps['generate'].stderr)} calls, refine {calls_of(steps['refine'].stderr)} calls; "
          f"refine kept as 'not enough evidence' or flagged: {sorted(refine_report['evidence'])}")
    print("| rubric | criteria | held-out accuracy | 95% CI | judge calls |")
    print("| --- | ---: | ---: | --- | ---: |")
    for name, rubric in (("generated (CRG)", generated), ("refined (RRD)", refined), ("refined, uniform weights", uniform)):
        report = work / f"eval-{rubric.stem}.json"
        cli("eval", str(test), "--format", "llmbar", "--rubric", str(rubric), "-o", str(report), *judge, env=env)
        data = json.loads(report.read_text(encoding="utf-8"))
        overall = data["overall"]
        n_crit = sum(1 for line in rubric.read_text(encoding="utf-8").splitlines() if line.strip().startswith("- id:"))
        lo, hi = overall["accuracy_ci"]
        print(f"| {name} | {n_crit} | {overall['accuracy']:.3f} | [{lo:.3f}, {hi:.3f}] | {data.get('calls', '?')} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=sorted(SETS), default="llmbar-natural")
    ap.add_argument("--n", type=int, default=40, help="pairs sampled (half write the rubric, half are held out)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judge", default=None, help="judge spec (default: the scripted server with --scripted, else local)")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--scripted", action="store_true", help="judge with the scripted server on 127.0.0.1")
    ap.add_argument("--rubric", default=None, help="refine this rubric instead of generating one")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per judge call (the embedded model on a busy CPU needs more)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        env["JUDGEKIT_CACHE_DIR"] = str(Path(tmp) / "cache")
        if args.scripted:
            with ScriptedJudgeServer(scripted_state()) as server:
                env.setdefault("OPENAI_API_KEY", "sk-scripted")
                run(args, ["--judge", "openai:scripted", "--base-url", server.base_url], env, Path(tmp))
            return
        judge = ["--judge", args.judge or "local"] + (["--base-url", args.base_url] if args.base_url else [])
        judge += ["--timeout", str(args.timeout)] if args.timeout else []
        run(args, judge, env, Path(tmp))


if __name__ == "__main__":
    main()
