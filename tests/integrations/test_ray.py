"""judgekit.ray on a real local Ray instance (2 CPUs) against the scripted judge: the same ids, rows and
rewards as a single-process run, for a Dataset and for `judgekit score --ray` over a file; a shard
whose worker dies is retried by Ray and written once; --resume continues shard by shard."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import ray

import judgekit
import judgekit.ray as judgekit_ray
from judgekit.data.outfile import open_locked
from judgekit.errors import InputError, JudgeUnreachable
from judgekit.testing import ScriptedJudgeServer, ServerState
from tests.helpers import SCORE_RUBRIC, free_port, read_jsonl, run_cli, scripted_judge, write_jsonl

# Two attempts: an actor idle between batches may find its pooled connection closed by the server
# ("Can not write request body"), a transient error the retry is for.
JUDGE = ["--judge", "openai:scripted", "--no-cache", "--max-attempts", "2"]


def script(cid: str, response: str) -> bool:
    return cid != "a" or "yes" in response


def make_rows(n: int = 24) -> list[dict[str, Any]]:
    answers = ["yes", "no", "yes, surely", "CRASH"]
    return [{"id": f"r{i}", "prompt": f"Question {i}?", "response": answers[i % len(answers)]} for i in range(n)]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    started = time.perf_counter()
    context = ray.init(num_cpus=2, include_dashboard=False)
    print(f"ray.init: {time.perf_counter() - started:.1f}s")
    yield context.address_info["address"]
    ray.shutdown()


@pytest.fixture
def server(judge_server: ScriptedJudgeServer) -> ScriptedJudgeServer:
    judge_server.state.script.met = script
    judge_server.state.script.fails = lambda response: "CRASH" in response  # the judge answers 500: unscored
    return judge_server


def single_process(server: ScriptedJudgeServer, rows: list[dict[str, Any]], rubric: Path) -> dict[str, dict[str, Any]]:
    with scripted_judge(server, max_attempts=2) as judge:
        return {r.id: r.model_dump() for r in judge.score(rows, judgekit.load_rubric(rubric))}


def test_a_dataset_scored_on_an_actor_pool_matches_a_single_process_run(server: ScriptedJudgeServer, rubric: Path,
                                                                        ray_address: str, tmp_path: Path):
    rows = make_rows()
    # rows with their own rubrics, of different shapes (Arrow gives both criteria every key)
    rows[0]["rubric"] = [{"id": "own", "text": "Says yes."}]
    rows[1]["rubric"] = [{"text": "Is kind.", "weight": 3, "kind": "hard_rule"}]
    expected = single_process(server, rows, rubric)
    started = time.perf_counter()
    results = judgekit_ray.score(ray.data.from_items(rows), rubric, judge="openai:scripted", base_url=server.base_url,
                                 actors=2, batch_size=5, cache=False, max_attempts=2, ray_remote_args={"num_cpus": 0.5})
    judgekit_ray.write(results, str(tmp_path / "jsonl"))
    print(f"ray score, {len(rows)} rows, 2 actors: {time.perf_counter() - started:.1f}s")
    written = [row for path in sorted((tmp_path / "jsonl").glob("*.jsonl")) for row in read_jsonl(path)]
    assert len(written) == len(rows)
    differ = [(r["id"], r["unscored"]) for r in written if r != expected[r["id"]]]
    assert differ == []
    assert sum(r["reward"] is None for r in written) == 6  # the CRASH rows: null, never a number

    judgekit_ray.write(results, str(tmp_path / "parquet"), format="parquet")
    table = pq.read_table(tmp_path / "parquet").to_pylist()
    assert sorted(r["id"] for r in table) == sorted(expected)
    for r in table:
        assert json.loads(r["result"]) == expected[r["id"]]
        assert r["reward"] == expected[r["id"]]["reward"]  # None stays None (a Parquet null), never NaN


def test_compare_on_an_actor_pool_matches_a_single_process_run(server: ScriptedJudgeServer, rubric: Path, ray_address: str):
    server.state.script.prefer = lambda cid, a, b: "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    rows = [{"id": i, "prompt": "Q?", "response_a": "x" * (i % 3), "response_b": "x"} for i in range(9)]
    with scripted_judge(server) as judge:
        expected = {r.id: r.model_dump() for r in judge.compare(rows, judgekit.load_rubric(rubric))}
    results = judgekit_ray.compare(ray.data.from_items(rows), rubric, judge="openai:scripted", base_url=server.base_url,
                                   actors=2, batch_size=4, cache=False, ray_remote_args={"num_cpus": 0.5})
    got = {r["id"]: r for r in results.take_all()}
    assert {k: json.loads(r["result"]) for k, r in got.items()} == expected
    assert {k: (r["winner"], r["margin"]) for k, r in got.items()} == {k: (e["winner"], e["margin"]) for k, e in expected.items()}


def test_a_dataset_without_ids_is_refused(ray_address: str, rubric: Path):
    with pytest.raises(InputError, match="id column"):
        judgekit_ray.score(ray.data.from_items([{"prompt": "q", "response": "a"}]), rubric, judge="openai:x",
                           base_url="http://127.0.0.1:9/v1")


def run_score(args: list[str], server: ScriptedJudgeServer, address: str | None = None) -> Any:
    env = {"RAY_ADDRESS": address} if address else None
    return run_cli("score", *args, *JUDGE, "--base-url", server.base_url, env=env, timeout=600)


def test_score_ray_over_a_file_writes_what_a_single_process_run_writes(server: ScriptedJudgeServer, rubric: Path,
                                                                       ray_address: str, tmp_path: Path):
    data = write_jsonl(tmp_path / "in.jsonl", make_rows())
    single = run_score([str(data), "--rubric", str(rubric), "-o", str(tmp_path / "single.jsonl")], server)
    assert single.returncode == 0, single.stderr
    started = time.perf_counter()
    on_ray = run_score([str(data), "--rubric", str(rubric), "-o", str(tmp_path / "ray.jsonl"), "--ray", "--ray-actors", "2",
                        "--ray-shard-rows", "5"], server, ray_address)
    print(f"judgekit score --ray, 24 rows, 5 shards, 2 actors: {time.perf_counter() - started:.1f}s")
    print(on_ray.stderr[on_ray.stderr.rfind("done"):])
    assert on_ray.returncode == 0, on_ray.stderr
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "single.jsonl").read_text()
    assert not (tmp_path / "ray.jsonl.parts").exists()
    assert "24 rows (24 judged, 0 resumed)" in on_ray.stderr
    assert "rows without a reward: 6" in on_ray.stderr
    calls = int(on_ray.stderr.split("judge calls: ")[1].split()[0])
    assert calls >= 18 * 2 + 6 * 2 * 2  # every criterion of every row, the failing ones twice


def test_compare_ray_over_a_file_writes_what_a_single_process_run_writes(server: ScriptedJudgeServer, rubric: Path,
                                                                         ray_address: str, tmp_path: Path):
    server.state.script.prefer = lambda cid, a, b: "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    rows = [{"id": f"p{i}", "prompt": "Q?", "response_a": "x" * (i % 3), "response_b": "x", "label": "A"} for i in range(7)]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    args = [str(data), "--rubric", str(rubric), *JUDGE, "--base-url", server.base_url]
    single = run_cli("compare", *args, "-o", str(tmp_path / "single.jsonl"), timeout=600)
    assert single.returncode == 0, single.stderr
    on_ray = run_cli("compare", *args, "-o", str(tmp_path / "ray.jsonl"), "--ray", "--ray-shard-rows", "3",
                     env={"RAY_ADDRESS": ray_address}, timeout=600)
    assert on_ray.returncode == 0, on_ray.stderr
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "single.jsonl").read_text()
    assert "winners: A 2, B 3, tie 2" in on_ray.stderr and "agreement with 'label': 2/7" in on_ray.stderr


def test_a_worker_that_dies_has_its_shard_retried_and_written_once(server: ScriptedJudgeServer, ray_address: str,
                                                                   tmp_path: Path):
    rubric = tmp_path / "dies.yaml"
    rubric.write_text(SCORE_RUBRIC + "  - id: c\n    kind: check\n    check: {python: 'tests.check_funcs:dies_once'}\n")
    marker = tmp_path / "died"
    rows = make_rows(12)
    rows[4]["die_marker"] = str(marker)  # the worker judging row r4 ends its process, once
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    result = run_score([str(data), "--rubric", str(rubric), "-o", str(tmp_path / "out.jsonl"), "--allow-code", "--ray",
                        "--ray-actors", "2", "--ray-shard-rows", "4"], server, ray_address)
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # the worker did die
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [r["id"] for r in rows]  # each row once, in input order
    assert out[4]["scores"] == {"a": 1, "b": 1, "c": 1} and out[4]["reward"] == 1.0


def test_resume_judges_only_the_shards_not_yet_written(server: ScriptedJudgeServer, rubric: Path, ray_address: str,
                                                       tmp_path: Path):
    data = write_jsonl(tmp_path / "in.jsonl", make_rows(12))
    out = tmp_path / "out.jsonl"
    args = [str(data), "--rubric", str(rubric), "-o", str(out), "--ray", "--ray-shard-rows", "4"]
    assert run_score(args, server, ray_address).returncode == 0
    full = read_jsonl(out)
    # An interrupted run: its layout and its first shard written (marked, to see that it is kept), nothing else.
    parts = tmp_path / "out.jsonl.parts"
    parts.mkdir()
    (parts / "layout.json").write_text(json.dumps({"rows": 12, "shard_rows": 4}))
    write_jsonl(parts / "part-000000.jsonl", [{**r, "coverage": 0.5} for r in full[:4]])
    out.unlink()
    seen_before = len(server.state.requests)
    resumed = run_score([*args[:-1], "6", "--resume"], server, ray_address)  # the saved shard size wins
    assert resumed.returncode == 0, resumed.stderr
    again = read_jsonl(out)
    assert [r["coverage"] for r in again[:4]] == [0.5] * 4 and again[4:] == full[4:]
    asked = {q for body in server.state.requests[seen_before:] for q in re.findall(r"Question \d+\?", json.dumps(body))}
    assert asked == {f"Question {i}?" for i in range(4, 12)}  # the first shard was not judged again
    assert "12 rows (8 judged, 4 resumed)" in resumed.stderr


def test_ray_needs_an_output_file(server: ScriptedJudgeServer, rubric: Path, tmp_path: Path):
    data = write_jsonl(tmp_path / "in.jsonl", make_rows(2))
    result = run_score([str(data), "--rubric", str(rubric), "-o", "-", "--ray"], server)
    assert result.returncode == 2 and "-o PATH" in result.stderr and "Traceback" not in result.stderr


def test_a_ray_run_refuses_an_output_file_another_run_is_writing(tmp_path: Path):
    out = tmp_path / "out.jsonl"
    # open_locked(out) is what a running `judgekit score -o out.jsonl` holds.
    with open_locked(out), pytest.raises(InputError, match="another judgekit run is writing this file"):
        judgekit_ray.judge_file([], source=tmp_path / "in.jsonl", output=out, work=judgekit_ray.Work("score", None, False),
                                setup=judgekit.JudgeSpec("openai:x"), actors=1, shard_rows=1, resume=False,
                                on_shard=lambda done: None)
    assert not (tmp_path / "out.jsonl.parts").exists()  # refused before anything was written


def test_score_ray_checks_the_judge_server_before_ray_starts(rubric: Path, tmp_path: Path):
    port, password = free_port(), "hunter2-ray-pw"
    data = write_jsonl(tmp_path / "in.jsonl", make_rows(4))
    started = time.perf_counter()
    result = run_cli("score", str(data), "--rubric", str(rubric), "-o", str(tmp_path / "out.jsonl"), "--ray", *JUDGE,
                     "--base-url", f"http://admin:{password}@127.0.0.1:{port}/v1", timeout=600)
    assert result.returncode == 1, result.stderr
    assert f"the judge server at http://admin:***@127.0.0.1:{port}/v1 does not answer" in result.stderr
    assert password not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl.parts").exists() and read_jsonl(tmp_path / "out.jsonl") == []  # as a plain run
    assert time.perf_counter() - started < 30  # no Ray instance was started


def test_a_judge_specs_check_asks_only_servers_and_loads_no_model():
    port = free_port()
    judgekit.JudgeSpec("local:/no/such/model.gguf").check_servers()  # an in-process model: nothing built, nothing to ask
    panel = judgekit.JudgeSpec(judges=[{"judge": "local:/no/such/model.gguf"},  # type: ignore[list-item]
                                       {"judge": "openai:m", "base_url": f"http://127.0.0.1:{port}/v1"}])
    with pytest.raises(JudgeUnreachable, match=f"http://127.0.0.1:{port}/v1 does not answer"):
        panel.check_servers()


def test_ray_datasets_name_a_misspelled_or_bad_argument_as_python_does():
    # checked before the Dataset is looked at: no Ray instance is needed
    with pytest.raises(InputError, match=r"judgekit\.ray\.score\(\), argument 'concurency': unknown argument \(did you mean 'concurrency'\?\)"):
        judgekit_ray.score(None, judge="openai:x", concurency=4)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"judgekit\.ray\.compare\(\), argument 'max_cost': .*finite"):
        judgekit_ray.compare(None, judge="openai:x", max_cost=float("nan"))  # type: ignore[arg-type]


# ---- the same run as a plain one: the panel, the limits, the exit codes, --resume -------------------


def _plain_and_on_ray(panel_file: str, rubric: Path, ray_address: str, tmp_path: Path
                      ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`score --panel` of 6 rows with this panel file's text, in one process (plain.jsonl) and on Ray
    in shards of 3 (ray.jsonl); both runs checked to have succeeded."""
    panel = tmp_path / "panel.yaml"
    panel.write_text(panel_file)
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": "Q?", "response": "yes"} for i in range(6)])
    args = ["score", str(data), "--rubric", str(rubric), "--panel", str(panel), "--no-cache"]
    plain = run_cli(*args, "-o", str(tmp_path / "plain.jsonl"))
    on_ray = run_cli(*args, "-o", str(tmp_path / "ray.jsonl"), "--ray", "--ray-shard-rows", "3",
                     env={"RAY_ADDRESS": ray_address}, timeout=600)
    assert (plain.returncode, on_ray.returncode) == (0, 0), on_ray.stderr
    return plain, on_ray


def _calls(stderr: str) -> int:
    return int(stderr.split("judge calls: ")[1].split()[0])


def test_score_ray_with_a_panel_writes_what_a_plain_run_with_that_panel_writes(server: ScriptedJudgeServer, rubric: Path,
                                                                               ray_address: str, tmp_path: Path):
    with ScriptedJudgeServer() as never_met:
        never_met.state.script.met = lambda cid, response: False
        plain, on_ray = _plain_and_on_ray(f"judges:\n  - {{judge: openai:a, base_url: '{server.base_url}'}}\n"
                                          f"  - {{judge: openai:b, base_url: '{never_met.base_url}'}}\naggregate: unanimous\n",
                                          rubric, ray_address, tmp_path)
        assert never_met.state.count == 2 * 12  # each judge of the panel asked on both runs
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    assert all(r["reward"] == 0.0 for r in read_jsonl(tmp_path / "ray.jsonl"))  # unanimous: never met
    agreement = [[line for line in run.stderr.splitlines() if "inter-judge" in line] for run in (plain, on_ray)]
    assert len(agreement[0]) == 1 and agreement[1] == agreement[0], on_ray.stderr  # gathered from every actor's shards


def test_a_dataset_judged_by_a_panel_judge_spec_asks_every_judge_on_the_actors(server: ScriptedJudgeServer, rubric: Path,
                                                                            ray_address: str):
    with ScriptedJudgeServer() as never_met:
        never_met.state.script.met = lambda cid, response: False
        panel = judgekit.JudgeSpec(judges=[{"judge": "openai:a", "base_url": server.base_url},  # type: ignore[list-item]
                                           {"judge": "openai:b", "base_url": never_met.base_url}],
                                   aggregate="unanimous", cache=False, max_attempts=2)
        rows = [{"id": f"r{i}", "prompt": "Q?", "response": "yes"} for i in range(4)]
        before = server.state.count
        results = judgekit_ray.score(ray.data.from_items(rows), rubric, judge=panel, actors=1, batch_size=2,
                                     ray_remote_args={"num_cpus": 0.5}).take_all()
        assert (server.state.count - before, never_met.state.count) == (2 * 4, 2 * 4)  # each judge: 2 criteria x 4 rows
    assert [r["reward"] for r in results] == [0.0] * 4  # alone the first judge gives 1.0: the panel's verdicts
    assert all(json.loads(r["result"])["scores"] == {"a": 0, "b": 0} for r in results)


def test_a_limit_under_ray_stops_and_resumes_as_a_plain_run_does(server: ScriptedJudgeServer, rubric: Path,
                                                                  ray_address: str, tmp_path: Path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": f"Question {i}?", "response": "yes"} for i in range(8)])
    args = [str(data), "--rubric", str(rubric), "--concurrency", "1", "--max-calls", "10"]
    for name, more in [("plain", []), ("ray", ["--ray", "--ray-actors", "2", "--ray-shard-rows", "2"])]:
        out = tmp_path / f"{name}.jsonl"
        before = server.state.count
        stopped = run_score([*args, "-o", str(out), *more], server, ray_address)
        assert stopped.returncode == 3, stopped.stderr
        assert "stopped: 8 rows" in stopped.stderr and "error: stopped at --max-calls 10" in stopped.stderr
        assert _calls(stopped.stderr) == server.state.count - before == 10  # one budget for every actor, each call counted
        written = read_jsonl(out) if name == "plain" else [
            row for part in sorted((tmp_path / f"{name}.jsonl.parts").glob("part-*.jsonl")) for row in read_jsonl(part)]
        assert 0 < len(written) < 8 and all(r["reward"] == 1.0 for r in written), (name, written)  # none "could not be judged"
        resumed = run_score([*args[:-2], "-o", str(out), *more, "--resume"], server, ray_address)
        assert resumed.returncode == 0, resumed.stderr
        assert f"8 rows ({8 - len(written)} judged, {len(written)} resumed)" in resumed.stderr
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()


def test_score_ray_with_a_cascade_gathers_each_levels_counts(rubric: Path, ray_address: str, tmp_path: Path):
    unsure = ServerState(verdict_probability=lambda cid, verdict: 0.95 if cid == "a" else 0.5)
    with ScriptedJudgeServer(unsure) as cheap, ScriptedJudgeServer() as strong:
        plain, on_ray = _plain_and_on_ray(f"cascade:\n  - {{judge: openai:a, base_url: '{cheap.base_url}'}}\n"
                                          f"  - {{judge: openai:b, base_url: '{strong.base_url}'}}\n", rubric, ray_address, tmp_path)
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    levels = [[line for line in run.stderr.splitlines() if "level " in line] for run in (plain, on_ray)]
    assert len(levels[0]) == 2 and levels[1] == levels[0], on_ray.stderr  # gathered from every actor's shards
    assert "level 1 openai:a: decided 6 (50.0%)" in plain.stderr, plain.stderr
