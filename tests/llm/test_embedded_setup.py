"""Setting up the embedded judge: a missing extra, a missing or non-GGUF model file, each one line
and exit code 2, before any model process starts. (The real model runs in tests/e2e/test_real_models.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from judgekit.llm import cache as llm_cache
from judgekit.llm.cache import DIGESTS_FILENAME, cache_key
from judgekit.llm.factory import make_backend
from tests.helpers import ROOT, RUBRICS, run_cli


def _rows(tmp_path: Path) -> Path:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": 1, "prompt": "q", "response": "a"}) + "\n")
    return data


def test_a_model_file_that_is_not_gguf_is_bad_input(tmp_path: Path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    proc = run_cli("score", str(_rows(tmp_path)), "--rubric", str(RUBRICS / "helpfulness.yaml"),
                   "--judge", f"local:{fake}", "-o", str(tmp_path / "out.jsonl"))
    assert proc.returncode == 2, proc.stderr
    assert f"{fake} is not a GGUF model file" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.jsonl").exists() or (tmp_path / "out.jsonl").read_text() == ""


def test_a_missing_model_file_is_bad_input(tmp_path: Path):
    proc = run_cli("score", str(_rows(tmp_path)), "--rubric", str(RUBRICS / "helpfulness.yaml"),
                   "--judge", f"local:{tmp_path / 'nope.gguf'}", "-o", "-")
    assert proc.returncode == 2, proc.stderr
    assert "model file not found" in proc.stderr and "nope.gguf" in proc.stderr


def test_the_embedded_judge_without_its_extra_names_the_install_command(tmp_path: Path):
    # As on a core install: llama_cpp cannot be imported.
    code = ("import sys; sys.modules['llama_cpp'] = None; from judgekit.cli.app import main; "
            f"main(['score', {str(_rows(tmp_path))!r}, '--rubric', {str(RUBRICS / 'helpfulness.yaml')!r}, '-o', '-'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'judgekit[local]'" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def _model_file(folder: Path, weights: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "judge.gguf"
    path.write_bytes(b"GGUF" + weights)
    return path


def test_two_model_files_of_the_same_name_and_size_are_two_judges_in_the_cache(tmp_path: Path):
    first = _model_file(tmp_path / "a", b"\x01" * 4096)
    second = _model_file(tmp_path / "b", b"\x02" * 4096)
    cache = tmp_path / "verdicts"
    request = {"messages": [{"role": "user", "content": "q"}]}
    keys = [cache_key(make_backend(f"local:{path}", cache_dir=str(cache)).identity(), request) for path in (first, second)]
    assert keys[0] != keys[1]
    assert (cache / DIGESTS_FILENAME).is_file()  # kept beside the verdict cache

    # The file replaced by other weights of the same size is another judge too.
    replacement = _model_file(tmp_path / "c", b"\x03" * 4096)
    os.replace(replacement, first)
    assert cache_key(make_backend(f"local:{first}", cache_dir=str(cache)).identity(), request) not in keys


def test_a_model_file_is_read_once_for_its_digest_not_on_every_call_or_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _model_file(tmp_path, b"\x01" * 4096)
    reads: list[Path] = []
    read = llm_cache._sha256_of
    monkeypatch.setattr(llm_cache, "_sha256_of", lambda p: reads.append(p) or read(p))
    backend = make_backend(f"local:{path}", cache_dir=str(tmp_path / "verdicts"))
    identities = [backend.identity() for _ in range(3)]
    assert len(reads) == 1

    # A later run (nothing remembered in the process) takes the digest from the table.
    monkeypatch.setattr(llm_cache, "_digests", {})
    assert make_backend(f"local:{path}", cache_dir=str(tmp_path / "verdicts")).identity() == identities[0]
    assert len(reads) == 1


def test_judgekit_local_model_names_the_model_of_plain_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    model = _model_file(tmp_path, b"\x01" * 64)
    monkeypatch.setenv("JUDGEKIT_LOCAL_MODEL", str(model))
    assert make_backend("local").path == model  # type: ignore[attr-defined]
    missing = tmp_path / "gone.gguf"
    proc = run_cli("score", str(_rows(tmp_path)), "--rubric", str(RUBRICS / "helpfulness.yaml"), "-o", "-",
                   env={"JUDGEKIT_LOCAL_MODEL": str(missing)})
    assert proc.returncode == 2, proc.stderr
    assert f"field 'JUDGEKIT_LOCAL_MODEL': model file not found: {missing}" in proc.stderr
