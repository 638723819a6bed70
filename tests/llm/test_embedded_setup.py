"""Setting up the embedded judge: a missing extra, a missing or non-GGUF model file, each one line
and exit code 2, before any model process starts. (The real model runs in tests/e2e/test_real_models.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
