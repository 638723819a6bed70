"""The Python API as a user calls it: a rubric given as a Rubric, a YAML file's path (str or Path) or its
data (a dict); a misspelled or bad argument is an InputError naming the Python argument (with the
closest known name), never a pydantic dump or a command-line flag, while the CLI keeps naming its flags.
Against the scripted judge over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import judgekit
from judgekit.errors import ArgumentError, InputError
from judgekit.judge import rank_group
from judgekit.testing import ScriptedJudgeServer
from tests.helpers import SCORE_RUBRIC, run_cli, scripted_judge

ROW = {"prompt": "q", "response": "a", "response_a": "a", "response_b": "b"}


def _forms(rubric: Path) -> list[Any]:
    data = yaml.safe_load(SCORE_RUBRIC)
    return [judgekit.load_rubric(rubric), rubric, str(rubric), data, data["criteria"]]


def test_a_rubric_may_be_given_as_a_rubric_a_path_or_its_data(judge_server: ScriptedJudgeServer, rubric: Path):
    with scripted_judge(judge_server) as judge:
        for given in _forms(rubric):
            scored = judge.score([ROW], given)[0]
            assert scored.reward == 1.0 and set(scored.scores) == {"a", "b"}, given
            assert set(judge.compare([ROW], given)[0].preferences) == {"a", "b"}, given
            ranked = judge.run(rank_group(judge, given, "q", ["a", "b"]))
            assert ranked.rewards == [1.0, 1.0], given


def test_the_reward_builders_take_a_rubric_as_its_data_too(judge_server: ScriptedJudgeServer, rubric: Path):
    with scripted_judge(judge_server) as judge:
        reward = judgekit.trl_reward(yaml.safe_load(SCORE_RUBRIC), judge, log=False)
        assert judge.run(reward(["q"], ["a"])) == [1.0]


def test_a_rubric_of_another_type_names_the_argument(judge_server: ScriptedJudgeServer):
    with scripted_judge(judge_server) as judge, pytest.raises(InputError) as caught:
        judge.score([ROW], 42)  # type: ignore[arg-type]
    assert str(caught.value).startswith("Judge.score(), argument 'rubric': a rubric is a Rubric")


@pytest.mark.parametrize(("rubric", "message"), [
    ({"criteria": 5}, "Judge.score(), argument 'rubric': field 'name': required field is missing"),
    ([{"text": "a", "weight": float("nan")}], "Judge.score(), argument 'rubric': criterion 'c1', field 'weight': must be a "
                                              "finite number"),
])
def test_a_bad_rubric_given_as_data_names_the_argument(judge_server: ScriptedJudgeServer, rubric: Any, message: str):
    with scripted_judge(judge_server) as judge, pytest.raises(ArgumentError) as caught:
        judge.score([ROW], rubric)
    assert str(caught.value).startswith(message), str(caught.value)
    assert judge_server.state.requests == []


@pytest.mark.parametrize(("arguments", "message"), [
    ({"concurency": 4}, "Judge(), argument 'concurency': unknown argument (did you mean 'concurrency'?)"),
    ({"baseurl": "http://x/v1"}, "Judge(), argument 'baseurl': unknown argument (did you mean 'base_url'?)"),
    ({"concurrency": 0}, "Judge(), argument 'concurrency': Input should be greater than or equal to 1 (got 0)"),
    ({"max_cost": 1.0}, "Judge(), argument 'max_cost': 'max_cost' needs a priced model"),
])
def test_a_bad_judge_argument_is_named_as_python_writes_it(judge_server: ScriptedJudgeServer, arguments: dict[str, Any],
                                                          message: str):
    with pytest.raises(ArgumentError) as caught:
        judgekit.Judge("openai:scripted", base_url=judge_server.base_url, **arguments)
    # what the command line reports as bad usage, and what Python code catches for a bad argument
    assert isinstance(caught.value, InputError) and isinstance(caught.value, (TypeError, ValueError))
    assert str(caught.value).startswith(message)
    assert "--" not in str(caught.value) and "pydantic" not in str(caught.value)


def test_a_bad_judge_spec_names_the_spec_argument_in_python_and_the_flag_on_the_command_line(tmp_path: Path):
    with pytest.raises(InputError) as caught:
        judgekit.Panel([{"judge": "nonsense"}])
    assert "--judge" not in str(caught.value)
    with pytest.raises(InputError) as caught:
        judgekit.Judge("nonsense")
    assert str(caught.value).startswith("Judge(), argument 'spec': unknown judge 'nonsense'")

    data = tmp_path / "in.jsonl"
    data.write_text('{"prompt": "q", "response": "a"}\n')
    rubric = tmp_path / "r.yaml"
    rubric.write_text(SCORE_RUBRIC)
    proc = run_cli("score", str(data), "-r", str(rubric), "--judge", "nonsense", "-o", "-")
    assert proc.returncode == 2 and "field '--judge': unknown judge 'nonsense'" in proc.stderr, proc.stderr
    proc = run_cli("score", str(data), "-r", str(rubric), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                   "--max-cost", "1", "-o", "-")
    assert proc.returncode == 2 and "field '--max-cost': --max-cost needs a priced model" in proc.stderr, proc.stderr
