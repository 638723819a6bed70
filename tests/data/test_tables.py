"""Parquet files and Hugging Face `datasets` datasets as input, read with the real `datasets` and
pyarrow: the same rows as from JSONL, splits, bad rows named by file, row and field, exit 2."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")
pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

from judgekit.data.reader import records  # noqa: E402
from judgekit.errors import InputError  # noqa: E402
from tests.helpers import read_jsonl, run_cli, write_jsonl  # noqa: E402

PAIR_RUBRIC = "name: p\ncriteria:\n  - id: better\n    text: The response is the better one.\n"


def judge_args(server_url: str, rubric: Path) -> list[str]:
    return ["--rubric", str(rubric), "--judge", "openai:m", "--base-url", server_url, "--no-cache"]


def score_rows(n: int) -> list[dict]:
    return [{"id": f"r{i}", "prompt": f"q{i}", "response": "yes" if i % 2 else "no"} for i in range(n)]


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture
def met_if_yes(judge_server):
    judge_server.state.script.met = lambda cid, response: response == "yes"
    return judge_server


def test_score_reads_a_saved_dataset_as_it_reads_jsonl(met_if_yes, tmp_path, rubric):
    rows = score_rows(7)
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    jsonl = write_jsonl(tmp_path / "in.jsonl", rows)
    outs = []
    for source, out in ((saved, tmp_path / "a.jsonl"), (jsonl, tmp_path / "b.jsonl")):
        proc = run_cli("score", str(source), *judge_args(met_if_yes.base_url, rubric), "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        outs.append(read_jsonl(out))
    assert outs[0] == outs[1]
    assert [r["id"] for r in outs[0]] == [r["id"] for r in rows]
    assert [r["reward"] for r in outs[0]] == [1.0 if i % 2 else 0.0 for i in range(7)]


def test_the_default_output_sits_beside_a_dataset_folder(met_if_yes, tmp_path, rubric):
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(score_rows(2)).save_to_disk(str(saved))
    proc = run_cli("score", str(saved), *judge_args(met_if_yes.base_url, rubric))
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(tmp_path / "saved.scored.jsonl")) == 2


def test_a_dataset_with_splits_needs_split(met_if_yes, tmp_path, rubric):
    saved = tmp_path / "dd"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(score_rows(3)),
                          "test": datasets.Dataset.from_list(score_rows(5)[3:])}).save_to_disk(str(saved))
    proc = run_cli("score", str(saved), *judge_args(met_if_yes.base_url, rubric))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "several splits (train, test); choose one with --split" in proc.stderr and "field '--split'" in proc.stderr
    out = tmp_path / "o.jsonl"
    proc = run_cli("score", str(saved), "--split", "test", *judge_args(met_if_yes.base_url, rubric), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["r3", "r4"]
    proc = run_cli("score", str(saved), "--split", "validation", *judge_args(met_if_yes.base_url, rubric))
    assert proc.returncode == 2 and "no split 'validation'; the dataset has train, test" in proc.stderr


def test_compare_reads_a_parquet_file_with_mapped_fields(judge_server, tmp_path):
    judge_server.state.script.prefer = lambda cid, a, b: "A" if "good" in a else "B"
    rows = [{"uid": i, "question": f"q{i}", "left": "good" if i % 2 else "bad", "right": "bad" if i % 2 else "good",
             "label": "A" if i % 2 else "B"} for i in range(4)]
    data = write_parquet(tmp_path / "pairs.parquet", rows)
    rubric = tmp_path / "p.yaml"
    rubric.write_text(PAIR_RUBRIC)
    out = tmp_path / "o.jsonl"
    proc = run_cli("compare", str(data), *judge_args(judge_server.base_url, rubric), "-o", str(out),
                   "--field", "prompt=question", "--field", "response_a=left", "--field", "response_b=right")
    assert proc.returncode == 0, proc.stderr
    got = read_jsonl(out)
    assert [r["id"] for r in got] == [0, 1, 2, 3]
    assert [r["winner"] for r in got] == ["B", "A", "B", "A"]
    assert "agreement with 'label': 4/4" in proc.stderr


def test_rank_reads_a_parquet_file_of_groups(met_if_yes, tmp_path, rubric):
    data = write_parquet(tmp_path / "groups.parquet", [{"id": i, "prompt": "q", "responses": ["yes", "no", "yes"]} for i in range(3)])
    out = tmp_path / "o.jsonl"
    proc = run_cli("rank", str(data), *judge_args(met_if_yes.base_url, rubric), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert [r["rewards"] for r in read_jsonl(out)] == [[1.0, 0.0, 1.0]] * 3


def test_a_bad_parquet_row_is_exit_2_naming_file_row_and_field(tmp_path, rubric):
    data = write_parquet(tmp_path / "in.parquet", [{"prompt": "q", "response": "a"}, {"prompt": "q", "response": None}])
    proc = run_cli("score", str(data), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2, proc.stderr
    assert f"{data}:2, field 'response': required field is missing" in proc.stderr and "Traceback" not in proc.stderr


def test_duplicate_ids_in_a_dataset_are_exit_2(tmp_path, rubric):
    saved = tmp_path / "saved"
    datasets.Dataset.from_list([{"id": "a", "prompt": "q", "response": "r"}] * 2).save_to_disk(str(saved))
    proc = run_cli("score", str(saved), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2, proc.stderr
    assert f"{saved}:2, field 'id': duplicate id 'a' (first at line 1)" in proc.stderr


def test_a_file_that_is_not_parquet_is_exit_2(tmp_path, rubric):
    data = tmp_path / "in.parquet"
    data.write_text('{"prompt": "q", "response": "r"}\n')
    proc = run_cli("score", str(data), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2 and "not a readable Parquet file" in proc.stderr and "Traceback" not in proc.stderr


def test_a_folder_that_is_no_dataset_and_split_on_a_file_are_exit_2(tmp_path, rubric):
    (tmp_path / "folder").mkdir()
    proc = run_cli("score", str(tmp_path / "folder"), *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2 and "save_to_disk" in proc.stderr
    data = write_jsonl(tmp_path / "in.jsonl", score_rows(1))
    proc = run_cli("score", str(data), "--split", "train", *judge_args("http://127.0.0.1:9/v1", rubric))
    assert proc.returncode == 2 and "field '--split'" in proc.stderr


def test_a_hub_name_that_cannot_be_loaded_is_exit_2(tmp_path, rubric):
    proc = run_cli("score", "no-such-owner/no-such-set", *judge_args("http://127.0.0.1:9/v1", rubric),
                   env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert proc.returncode == 2, proc.stderr
    assert "no-such-owner/no-such-set: neither a file nor a hub dataset that could be loaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_resume_continues_a_run_over_a_dataset(met_if_yes, tmp_path, rubric):
    rows = score_rows(6)
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved))
    out = tmp_path / "o.jsonl"
    args = ("score", str(saved), *judge_args(met_if_yes.base_url, rubric), "-o", str(out))
    assert run_cli(*args).returncode == 0  # the run's record beside the output, which --resume checks
    out.write_text("".join(json.dumps({"id": r["id"], "reward": 0.5, "scores": {}, "unscored": {}}) + "\n" for r in rows[:2]))
    proc = run_cli(*args, "--resume")
    assert proc.returncode == 0, proc.stderr
    got = read_jsonl(out)
    assert [r["id"] for r in got] == [r["id"] for r in rows] and [r["reward"] for r in got[:2]] == [0.5, 0.5]
    assert "2 resumed" in proc.stderr


def test_table_values_become_json_values(tmp_path):
    data = write_parquet(tmp_path / "t.parquet", [{"id": 1, "when": datetime.date(2025, 3, 1), "tags": ["a"], "meta": {"k": 1}}])
    [rec] = list(records(data))
    assert (rec.line, rec.number) == (1, 1)
    assert rec.obj == {"id": 1, "when": "2025-03-01", "tags": ["a"], "meta": {"k": 1}}
    binary = write_parquet(tmp_path / "b.parquet", [{"id": 1, "blob": b"\x00\x01"}])
    with pytest.raises(InputError, match="field 'blob'"):
        list(records(binary))


@pytest.mark.parametrize("layout", ["parquet", "dataset"])
def test_eval_reads_judgebench_from_a_table(judge_server, tmp_path, rubric, layout):
    judge_server.state.script.prefer = lambda cid, a, b: "A" if "good" in a else "B"
    rows = [{"pair_id": f"p{i}", "question": "q", "response_A": "good" if i % 2 else "bad",
             "response_B": "bad" if i % 2 else "good", "label": "A>B" if i % 2 else "B>A", "source": "s"} for i in range(4)]
    data = tmp_path / "jb"
    if layout == "parquet":
        data = write_parquet(tmp_path / "jb.parquet", rows)
    else:
        datasets.DatasetDict({"gpt": datasets.Dataset.from_list(rows)}).save_to_disk(str(data))
    report = tmp_path / "report.json"
    proc = run_cli("eval", str(data), "--format", "judgebench", *judge_args(judge_server.base_url, rubric), "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(report.read_text())["overall"]["accuracy"] == 1.0
