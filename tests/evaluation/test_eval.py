"""`judgekit eval` on the shared human-labelled files, with a scripted judge that knows the answers."""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

import pytest

from judgekit.data.datasets import read_pairs, split_dialogue
from judgekit.errors import InputError
from judgekit.testing import Script
from tests.helpers import SHARED_DATA, read_jsonl, run_cli

LIMIT = 3
RUBRIC_TEXT = """name: two
criteria:
  - id: follows_instruction
    text: The response does what the user asked.
    weight: 3
  - id: correct
    text: The response is correct.
    weight: 2
"""
K = 2

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared data folder is not present")


def _last_turn(dialogue: str) -> str:
    return dialogue.rsplit("\n\nAssistant:", 1)[1].strip()


def _oracle(fmt: str, path: Path) -> dict[tuple[str, str], str]:
    """(better, worse) texts straight from the files, independent of judgekit.data.datasets."""
    better: dict[tuple[str, str], str] = {}
    if fmt == "llmbar":
        for rec in json.loads(path.read_text()):
            a, b = rec["output_1"], rec["output_2"]
            better[(a, b)] = "A" if rec["label"] == 1 else "B"
    elif fmt == "pandalm":
        for rec in json.loads(path.read_text()):
            votes = [rec[f"annotator{k}"] for k in (1, 2, 3)]
            top = collections.Counter(votes).most_common(1)[0][0]
            better[(rec["response1"], rec["response2"])] = {0: "tie", 1: "A", 2: "B"}[top]
    elif fmt == "evalbiasbench":
        for records in json.loads(path.read_text()).values():
            for rec in records:
                better[(rec["response1"], rec["response2"])] = "A"
    elif fmt == "hh-rlhf":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                better[(_last_turn(rec["chosen"]), _last_turn(rec["rejected"]))] = "A"
    elif fmt == "judgebench":
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            better[(rec["response_A"], rec["response_B"])] = {"A>B": "A", "B>A": "B"}[rec["label"]]
    return better


def _oracle_judge(oracle: dict[tuple[str, str], str]):
    flip = {"A": "B", "B": "A", "tie": "tie"}

    def prefer(cid: str, a: str, b: str) -> str:
        if (a, b) in oracle:
            return oracle[(a, b)]
        if (b, a) in oracle:
            return flip[oracle[(b, a)]]
        return "tie"

    return prefer


def _judgebench_file(tmp_path: Path) -> Path:
    rows = [
        {"pair_id": f"p{i}", "source": "mmlu-pro" if i % 2 else "livecodebench", "question": f"What is {i}+{i}?",
         "response_A": f"It is {2 * i}." if i % 3 else f"It is {2 * i + 1}.",
         "response_B": f"It is {2 * i + 1}." if i % 3 else f"It is {2 * i}.",
         "label": "A>B" if i % 3 else "B>A"}
        for i in range(8)
    ]
    path = tmp_path / "judgebench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


CASES = [
    ("llmbar", "llmbar/natural.json"),
    ("llmbar", "llmbar/adversarial-neighbor.json"),
    ("llmbar", "llmbar/adversarial-gptinst.json"),
    ("llmbar", "llmbar/adversarial-gptout.json"),
    ("llmbar", "llmbar/adversarial-manual.json"),
    ("llmbar", "llmbar/mtbench-human.json"),
    ("pandalm", "pandalm/testset-v1.json"),
    ("evalbiasbench", "evalbiasbench/biasbench.json"),
    ("hh-rlhf", "hh-rlhf/harmless-base-test.jsonl.gz"),
    ("judgebench", None),
]


@needs_data
@pytest.mark.parametrize("fmt,rel", CASES, ids=[c[1] or "judgebench" for c in CASES])
def test_eval_every_shared_file_with_an_oracle_judge(judge_server, tmp_path: Path, fmt: str, rel: str | None) -> None:
    path = SHARED_DATA / rel if rel else _judgebench_file(tmp_path)
    judge_server.state.script = Script(prefer=_oracle_judge(_oracle(fmt, path)))
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_TEXT)
    report_path = tmp_path / "report.json"
    proc = run_cli("eval", str(path), "--format", fmt, "--rubric", str(rubric), "--judge", "openai:scripted",
                   "--base-url", judge_server.base_url, "--limit", str(LIMIT), "--seed", "3", "-o", str(report_path))
    assert proc.returncode == 0, proc.stderr
    assert "judgekit eval" in proc.stderr  # the table
    report = json.loads(report_path.read_text())
    pairs = read_jsonl(tmp_path / report["pairs_file"])  # the pairs' records, beside the report
    overall = report["overall"]
    assert overall["n"] == len(pairs) > 0
    assert all(m["n"] <= LIMIT for m in report["subsets"].values())
    assert overall["accuracy"] == 1.0  # the oracle agrees with every human label, in both orders
    assert overall["accuracy_ci"] == [1.0, 1.0] and overall["kappa"] in (1.0, None)  # None: one category only
    assert overall["position_consistency"] == 1.0
    assert report["calls"] == overall["n"] * 2 * K == len(judge_server.state.requests)
    assert report["tokens"]["prompt"] == 100 * report["calls"] and report["cost_usd"] is None
    labels = collections.Counter(p["label"] for p in pairs)
    assert overall["tie_rate"] == pytest.approx(labels["tie"] / overall["n"], abs=1e-4)
    if fmt == "evalbiasbench":
        assert len(report["subsets"]) == 6  # per bias type
        assert set(labels) == {"A", "B"}  # the order was shuffled


@needs_data
def test_eval_position_biased_judge(judge_server, tmp_path: Path) -> None:
    judge_server.state.script = Script(prefer=lambda cid, a, b: "A")
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_TEXT)
    report_path = tmp_path / "report.json"
    proc = run_cli("eval", str(SHARED_DATA / "llmbar"), "--format", "llmbar", "--rubric", str(rubric),
                   "--judge", "openai:scripted", "--base-url", judge_server.base_url, "--limit", "2", "-o", str(report_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert len(report["subsets"]) == 6  # natural, 4 adversarial, mtbench-human
    overall = report["overall"]
    assert overall["n"] == 12
    assert overall["tie_rate"] == 1.0 and overall["position_consistency"] == 0.0 and overall["pairs_inconsistent"] == 1.0
    assert overall["accuracy"] == 0.0 and overall["accuracy_no_ties"] is None


@needs_data
def test_master_key_probe(judge_server, tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_TEXT)
    base = ("eval", str(SHARED_DATA / "pandalm" / "testset-v1.json"), "--format", "pandalm", "--rubric", str(rubric),
            "--judge", "openai:scripted", "--base-url", judge_server.base_url, "--limit", "2", "--probe", "master-key",
            "-o", "-", "--no-cache")
    judge_server.state.script = Script(met=lambda cid, r: True)  # fooled by anything
    fooled = run_cli(*base)
    assert fooled.returncode == 0, fooled.stderr
    report = json.loads(fooled.stdout)
    assert report["probe"]["false_positive_rate"] == 1.0
    assert report["probe"]["attacks"]["master-key"]["n"] == 2 * 4  # 2 prompts x 4 keys (no reference in PandaLM)
    assert report["probe"]["calls"] >= 2 * 4 * K  # and each prompt's preferred response, as the baseline
    judge_server.state.script = Script(met=lambda cid, r: len(r.split()) > 8)
    sound = json.loads(run_cli(*base).stdout)
    assert sound["probe"]["false_positive_rate"] == 0.0
    assert set(sound["probe"]["attacks"]["master-key"]["variants"]) == {":", ".", "Thought process:", "Let's solve this problem step by step."}


def test_master_key_probe_judges_a_reply_as_score_does(judge_server, tmp_path: Path) -> None:
    """The probe's replies are judged as `score` judges any response: under rubric-rm with the
    criteria written for the prompt (3 by the scripted generator) besides the rubric's K."""
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_TEXT)
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([{"input": "What is 2+2?", "output_1": "4", "output_2": "5", "label": 1}]))
    proc = run_cli("eval", str(pairs), "--format", "llmbar", "--rubric", str(rubric), "--profile", "rubric-rm",
                   "--judge", "openai:scripted", "--base-url", judge_server.base_url, "--probe", "master-key",
                   "-o", "-", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    generated = 3
    # the 4 master keys and the real response (for the reward delta), each criterion its call
    assert json.loads(proc.stdout)["probe"]["calls"] == 5 * (K + generated)


def test_split_dialogue() -> None:
    prompt, last = split_dialogue("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: like this")
    assert prompt == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                      {"role": "user", "content": "how?"}]
    assert last == "like this"
    with pytest.raises(ValueError):
        split_dialogue("\n\nHuman: only a question")


def test_readers_reject_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "response_A": "a", "response_B": "b", "label": "A>B"}) + "\n"
                   + json.dumps({"question": "q", "response_A": "a", "response_B": "b", "label": "maybe"}) + "\n")
    with pytest.raises(InputError) as exc:
        read_pairs(bad, "judgebench")
    assert "bad.jsonl:2" in str(exc.value) and "label" in str(exc.value)
    with pytest.raises(InputError):
        read_pairs(bad, "parquet")
    proc = run_cli("eval", str(bad), "--format", "judgebench", "--rubric", "rubrics/helpfulness.yaml",
                   "--judge", "openai:scripted", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2 and "label" in proc.stderr


@needs_data
def test_limit_is_a_seeded_sample_per_subset() -> None:
    path = SHARED_DATA / "evalbiasbench" / "biasbench.json"
    a = read_pairs(path, "evalbiasbench", limit=2, seed=1)
    b = read_pairs(path, "evalbiasbench", limit=2, seed=1)
    c = read_pairs(path, "evalbiasbench", limit=2, seed=2)
    assert a == b and a != c
    assert collections.Counter(p.subset for p in a) == {s: 2 for s in {p.subset for p in a}}


@needs_data
def test_eval_second_run_is_served_by_the_cache(judge_server, tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_TEXT)
    args = ("eval", str(SHARED_DATA / "llmbar" / "natural.json"), "--format", "llmbar", "--rubric", str(rubric),
            "--judge", "openai:scripted", "--base-url", judge_server.base_url, "--limit", "2", "-o", "-")
    first = json.loads(run_cli(*args).stdout)
    second = json.loads(run_cli(*args).stdout)
    assert (first["calls"], first["cache_hits"]) == (2 * 2 * K, 0)
    assert (second["calls"], second["cache_hits"]) == (0, 2 * 2 * K)
    assert len(judge_server.state.requests) == 2 * 2 * K
