"""Judge settings given once: flags > environment (JUDGEKIT_*) > project file (judgekit.toml or
[tool.judgekit]) > defaults; `judgekit config` shows each and where it came from, never a key."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from judgekit.cli.settings import project_file
from tests.helpers import CLI, ROOT, SCORE_RUBRIC, free_port, write_jsonl


def _cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JUDGEKIT_") or k == "JUDGEKIT_CACHE_DIR"}
    full = {**clean, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full, cwd=str(cwd), timeout=300)


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "judgekit.toml").write_text(toml)
    (tmp_path / "r.yaml").write_text(SCORE_RUBRIC)
    write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "p", "response": "r"}])
    return tmp_path


def test_flags_beat_the_environment_which_beats_the_file(judge_server, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    folder = _project(tmp_path, f'judge = "openai:m"\nbase-url = "{dead}"\nconcurrency = 2\n')
    args = ("score", "in.jsonl", "--rubric", "r.yaml", "-o", "out.jsonl", "--quiet")
    assert _cli(folder, *args).returncode == 1  # the file's server does not answer: the file was read
    assert _cli(folder, *args, env={"JUDGEKIT_BASE_URL": judge_server.base_url}).returncode == 0  # env > file
    proc = _cli(folder, *args, "--base-url", judge_server.base_url, env={"JUDGEKIT_BASE_URL": dead})
    assert proc.returncode == 0, proc.stderr  # flag > env


def test_pyproject_table_is_read_and_config_says_where_each_setting_comes_from(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.judgekit]\njudge = "openai:m"\ntimeout = 5\n')
    proc = _cli(tmp_path, "config", env={"JUDGEKIT_CONCURRENCY": "7", "OPENAI_API_KEY": "sk-secret-key-123456",
                                         "JUDGEKIT_BASE_URL": "http://user:hunter2@127.0.0.1:9/v1"})
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert "openai:m" in lines["judge"] and "pyproject.toml:5" in lines["judge"]
    assert "5" in lines["timeout"] and "pyproject.toml:6" in lines["timeout"]
    assert "7" in lines["concurrency"] and "JUDGEKIT_CONCURRENCY" in lines["concurrency"]
    assert lines["max-attempts"].split()[-1] == "default"
    assert "set" in lines["OPENAI_API_KEY"]
    assert "sk-secret" not in proc.stdout + proc.stderr and "hunter2" not in proc.stdout + proc.stderr


def test_a_bad_setting_names_file_line_and_field(tmp_path):
    folder = _project(tmp_path, 'judge = "openai:m"\n\nconcurrency = "many"\n')
    proc = _cli(folder, "score", "in.jsonl", "--rubric", "r.yaml")
    assert proc.returncode == 2 and "judgekit.toml:3" in proc.stderr and "field 'concurrency'" in proc.stderr, proc.stderr
    (folder / "judgekit.toml").write_text('judge = "openai:m"\njduge = "x"\n')
    proc = _cli(folder, "config")
    assert proc.returncode == 2 and "judgekit.toml:2" in proc.stderr and "field 'jduge'" in proc.stderr
    (folder / "judgekit.toml").write_text('judge = "openai:m\n')
    proc = _cli(folder, "config")
    assert proc.returncode == 2 and "judgekit.toml:1" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("toml", [
    '[tool.judgekit]\nconcurrency = 3\n',
    '[ tool . "judgekit" ]\nconcurrency = 3\n',
    '[tool]\njudgekit.concurrency = 3\n',
    'tool.judgekit.concurrency = 3\n',
    '[tool]\njudgekit = { concurrency = 3 }\n',
    'tool = { judgekit = { concurrency = 3 } }\n',
])
def test_every_toml_form_of_the_pyproject_table_is_read(tmp_path, toml):
    (tmp_path / "pyproject.toml").write_text(toml + '\n[project]\nname = "x"\ndependencies = ["judgekit>=0.1"]\n')
    found = project_file(tmp_path)
    assert found is not None and found.values == {"concurrency": 3}


def test_a_pyproject_that_only_depends_on_judgekit_is_not_parsed(tmp_path):
    # not valid TOML past the dependency: parsed, it would be an error
    (tmp_path / "pyproject.toml").write_text('[project.scripts]\njudgekit = "judgekit.cli.app:main"\ndependencies = ["judgekit"\n')
    assert project_file(tmp_path) is None
