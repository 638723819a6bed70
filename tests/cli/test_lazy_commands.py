"""The command line loads only the command it runs: `judgekit --help` lists every command with its own
help line without importing any command's module, and a command's own help is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from judgekit.cli.app import COMMANDS, app
from tests.helpers import ROOT


def test_the_listed_help_lines_are_the_commands_own() -> None:
    group = typer.main.get_command(app).load_all()
    for name in COMMANDS:
        command = group.commands[name]
        assert (command.help or "").split("\n\n")[0].strip() == COMMANDS[name][1], name


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    code = ("import sys\nfrom judgekit.cli.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('judgekit.') and m.split('.')[1] not in ('cli', 'errors', 'secrets')"
            " and m not in ('judgekit.llm', 'judgekit.llm.young_gc')),"
            " file=sys.stderr)\nprint(sorted(m for m in sys.modules if m.startswith('judgekit.cli.')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert all(f" {name} " in proc.stdout for name in COMMANDS), proc.stdout
    # cli.settings: whether a project file (judgekit.toml) is there, asked before any command
    assert proc.stderr.splitlines() == ["[]", "['judgekit.cli.app', 'judgekit.cli.settings']"], proc.stderr


def test_scoring_an_empty_file_loads_nothing_it_does_not_use(judge_server, rubric: Path, tmp_path: Path) -> None:
    """No template rendered, no cost, no retry, no bar, no regex check: their libraries are not loaded;
    nor the judging of pairs, groups, panels, cascades, implicit aggregation or written criteria."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    unused = ("jinja2", "genai_prices", "tenacity", "regex", "rich.progress", "judgekit.judging.pairwise", "judgekit.judging.ranking",
              "judgekit.judging.panel", "judgekit.judging.cascade", "judgekit.judging.implicit", "judgekit.judging.adaptive",
              "judgekit.judging.rubric_rm", "judgekit.rubric.meta", "judgekit.llm.balance", "judgekit.panel")
    code = ("import sys\nfrom judgekit.cli.app import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n"
            f"    assert not exc.code, exc.code\nprint(sorted(m for m in {unused!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, "score", str(empty), "--rubric", str(rubric), "--judge", "openai:m",
                           "--base-url", judge_server.base_url, "-o", str(tmp_path / "out.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, "OPENAI_API_KEY": "sk-test"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout
