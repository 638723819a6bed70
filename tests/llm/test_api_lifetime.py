"""The Python API closes its clients: the README's example, and a Judge that is never closed (dropped
mid-program, dropped inside the caller's event loop, alive at exit), print no warning when run as a
script against the scripted judge over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from judgekit.testing import ScriptedJudgeServer
from tests.helpers import ROOT


def readme_example() -> str:
    """The README's first Python block that builds a Judge and scores rows."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if "judgekit.Judge(" in b and "judge.score(" in b)


NEVER_CLOSED = """
import gc, judgekit
rubric = judgekit.load_rubric("rubrics/helpfulness.yaml")

def once(prompt):
    judge = judgekit.Judge("openai:scripted", base_url=BASE_URL, concurrency=8)
    return judge.score([{"prompt": prompt, "response": "Canberra."}], rubric)[0].reward

print(once("dropped, then collected"))
gc.collect()
kept = judgekit.Judge("openai:scripted", base_url=BASE_URL)
print(kept.score([{"prompt": "alive at exit", "response": "Canberra."}], rubric)[0].reward)
"""

DROPPED_IN_A_LOOP = """
import asyncio, time, judgekit
rubric = judgekit.load_rubric("rubrics/helpfulness.yaml")

async def main():
    judge = judgekit.Judge("openai:scripted", base_url=BASE_URL)
    print((await judge.ascore([{"prompt": "from async code", "response": "Canberra."}], rubric))[0].reward)
    started = time.monotonic()
    del judge
    print("released in", round(time.monotonic() - started, 1))

asyncio.run(main())
"""


def run_script(code: str, server: ScriptedJudgeServer, tmp_path: os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    code = code.replace('"http://localhost:8000/v1"', "BASE_URL")
    script = f"BASE_URL = {server.base_url!r}\n" + textwrap.dedent(code)
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "PYTHONPATH": str(ROOT),
           "JUDGEKIT_CACHE_DIR": str(tmp_path) + "/cache"}
    return subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", script], capture_output=True,
                          text=True, cwd=str(ROOT), env=env, timeout=120)


@pytest.mark.parametrize("name", ["readme", "never_closed", "dropped_in_a_loop"])
def test_no_warning_at_exit(name: str, judge_server: ScriptedJudgeServer, tmp_path: os.PathLike[str]) -> None:
    code = {"readme": readme_example(), "never_closed": NEVER_CLOSED, "dropped_in_a_loop": DROPPED_IN_A_LOOP}[name]
    res = run_script(code, judge_server, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "reward" in res.stdout or "0.857" in res.stdout
    if name == "dropped_in_a_loop":
        assert "released in 0." in res.stdout  # closing did not wait for a timeout
