"""The installed wheel carries every prompt template and the example rubrics, and loads them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import ROOT


def test_wheel_ships_prompts_and_renders_from_them(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = list(tmp_path.glob("judgekit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for template in (ROOT / "prompts").rglob("*"):
        if template.is_file():
            assert f"judgekit/prompts/{template.relative_to(ROOT / 'prompts').as_posix()}" in names
    assert "judgekit/prompts/profiles/rm-r1/profile.yaml" in names
    assert "judgekit/rubrics/helpfulness.yaml" in names
    assert "judgekit/rubrics/meta/pairwise.yaml" in names
    assert "judgekit/py.typed" in names  # type checkers read the package's annotations
    assert not any(n.startswith("tests/") for n in names)
    # The core install compiles nothing: llama.cpp's bindings come only with the [local] extra.
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    native = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: llama-cpp-python")]
    assert native and all("extra ==" in line for line in native), native

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        f"SITE = {str(site)!r};"
        "import judgekit.protocol.templates as p, judgekit.protocol.profiles as pr, judgekit.rubric.models as r;"
        "d = p.prompts_dir(); assert str(d).startswith(SITE), d;"
        "assert (d / 'report' / 'refine.html.j2').is_file();"
        "rub = r.load_rubric(d.parent / 'rubrics' / 'helpfulness.yaml');"
        "m = p.pointwise_messages(prompt='q', response='a', criteria=list(rub.criteria[:1]), reference=None, rubric_name='x', rubric_description='', profile=pr.load_profile(None));"
        "assert 'criterion_id \"answers_question\"' in m[1]['content'];"
        "assert set(pr.builtin_profiles()) >= {'rm-r1', 'prometheus2', 'rubric-rm', 'yes-no'};"
        "m = p.pairwise_messages(prompt='q', response_a='a', response_b='b', criteria=list(rub.criteria[:1]), reference=None, rubric_name='x', rubric_description='', profile=pr.load_profile('rm-r1'));"
        "assert '<answer>[[A]]</answer>' in m[-1]['content']"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(tmp_path), env={"PYTHONPATH": str(site), "PATH": ""}, timeout=60)
