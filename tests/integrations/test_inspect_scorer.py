"""judgekit.inspect in a real Inspect AI eval: Inspect's mockllm model answers the samples, the
scorer judges each answer with a Judge on the scripted server, and Inspect computes the metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import ChatMessage, ModelOutput, ModelUsage, get_model
from inspect_ai.solver import generate

import judgekit
from judgekit.errors import InputError, RowFailure
from judgekit.inspect import rubric_scorer, to_score
from judgekit.judging.results import ScoreResult
from judgekit.testing import ScriptedJudgeServer
from tests.helpers import scripted_judge

ANSWERS = {"Say yes.": "yes", "Say no.": "no", "Break the judge.": "CRASH", "Own rubric.": "yes, briefly"}


def answer(messages: list[ChatMessage], *_: Any) -> ModelOutput:
    output = ModelOutput.from_content(model="mockllm", content=ANSWERS[messages[-1].text])
    # given, so that mockllm does not count tokens with tiktoken (which downloads its encoding)
    output.usage = ModelUsage(input_tokens=10, output_tokens=2, total_tokens=12)
    return output


def script(cid: str, response: str) -> bool:
    return cid != "a" or "yes" in response


def run_eval(server: ScriptedJudgeServer, rubric: Path, log_dir: Path) -> EvalLog:
    server.state.script.met = script
    server.state.script.fails = lambda response: "CRASH" in response  # the judge answers 500
    samples = [
        Sample(id="yes", input="Say yes.", target="yes"),
        Sample(id="no", input="Say no."),
        Sample(id="broken", input="Break the judge."),
        Sample(id="own", input="Own rubric.", metadata={"rubric": [{"id": "brief", "text": "Is brief."}]}),
    ]
    judge = scripted_judge(server, max_attempts=1)
    task = Task(dataset=samples, solver=generate(), scorer=rubric_scorer(str(rubric), judge=judge))
    [log] = eval(task, model=get_model("mockllm/model", custom_outputs=answer), log_dir=str(log_dir), display="none")
    judge.close()
    return log


def test_a_real_eval_scores_each_sample_with_the_rubric(judge_server: ScriptedJudgeServer, rubric: Path, tmp_path: Path):
    log = run_eval(judge_server, rubric, tmp_path / "logs")
    assert log.status == "success"
    scores = {s.id: s.scores["rubric_scorer"] for s in log.samples or []}

    assert scores["yes"].value == 1.0
    assert scores["yes"].metadata == {"coverage": 1.0, "scores": {"a": 1, "b": 1}, "unscored": {}}
    assert scores["yes"].explanation == "a: MET - scripted\nb: MET - scripted"
    assert scores["yes"].answer == "yes"
    assert scores["no"].value == pytest.approx(2 / 3)  # a (weight 1) UNMET, b (weight 2) MET
    assert scores["no"].metadata["scores"] == {"a": 0, "b": 1}
    assert scores["own"].value == 1.0 and scores["own"].metadata["scores"] == {"brief": 1}

    # The response the judge failed on is Inspect's unscored score, never a number.
    broken = scores["broken"]
    assert isinstance(broken.value, float) and math.isnan(broken.value)
    assert broken.reason == "grader_failed"
    assert broken.metadata["scores"] == {"a": None, "b": None}
    assert set(broken.metadata["unscored"]) == {"a", "b"}
    assert "unscored" in (broken.explanation or "")


def test_inspect_leaves_the_unscored_sample_out_of_its_metrics(judge_server: ScriptedJudgeServer, rubric: Path, tmp_path: Path):
    log = run_eval(judge_server, rubric, tmp_path / "logs")
    assert log.results is not None
    [result] = log.results.scores
    assert result.scored_samples == 3 and result.unscored_samples == 1
    assert result.metrics["mean"].value == pytest.approx((1.0 + 2 / 3 + 1.0) / 3)
    # and the log on disk reads back with the same unscored score
    saved = read_eval_log(log.location)
    broken = next(s for s in saved.samples or [] if s.id == "broken").scores["rubric_scorer"]
    assert math.isnan(float(broken.value)) and broken.reason == "grader_failed"  # type: ignore[arg-type]


def test_a_sample_whose_rubric_is_bad_is_unscored_with_the_reason(judge_server: ScriptedJudgeServer, tmp_path: Path):
    judge = scripted_judge(judge_server)
    task = Task(dataset=[Sample(id="x", input="Say yes.", metadata={"rubric": {"criteria": []}}), Sample(id="y", input="Say no.")],
                solver=generate(), scorer=rubric_scorer(judge=judge))
    [log] = eval(task, model=get_model("mockllm/model", custom_outputs=answer), log_dir=str(tmp_path), display="none")
    judge.close()
    scores = {s.id: s.scores["rubric_scorer"] for s in log.samples or []}
    assert log.status == "success"
    for sample_id in ("x", "y"):
        assert math.isnan(float(scores[sample_id].value)) and scores[sample_id].reason == "scoring_failed"  # type: ignore[arg-type]
    assert "rubric" in (scores["y"].explanation or "")


def test_a_key_is_never_a_scorer_argument(judge_server: ScriptedJudgeServer):
    # Inspect writes a scorer's arguments into the eval log.
    with pytest.raises(InputError, match="environment"):
        rubric_scorer(judge="openai:scripted", base_url=judge_server.base_url, api_key="sk-secret-0123456789")


def test_a_key_the_judge_server_echoes_never_reaches_the_eval_log(judge_server: ScriptedJudgeServer, rubric: Path, tmp_path: Path):
    key = "sk-inspect-0123456789abcdef"
    judge_server.state.echo = "reasoning"  # the server puts the request's Authorization header in each verdict's reasoning
    judge = judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key=key, cache=False)
    task = Task(dataset=[Sample(id="yes", input="Say yes.")], solver=generate(), scorer=rubric_scorer(str(rubric), judge=judge))
    [log] = eval(task, model=get_model("mockllm/model", custom_outputs=answer), log_dir=str(tmp_path), display="none",
                 log_format="json")  # plain JSON on disk, so the file itself can be searched
    judge.close()
    score = (log.samples or [])[0].scores["rubric_scorer"]
    assert score.value == 1.0 and "as received" in (score.explanation or "")  # the echo is there, the key is not
    assert judge_server.state.echoes > 0
    logged = Path(log.location).read_text()
    assert "as received" in logged and key[:8] not in logged


def test_the_scorer_takes_a_judge_spec_and_builds_its_judge(judge_server: ScriptedJudgeServer, rubric: Path, tmp_path: Path):
    judge_server.state.script.met = script
    spec = judgekit.JudgeSpec("openai:scripted", base_url=judge_server.base_url, cache=False, max_attempts=1)
    task = Task(dataset=[Sample(id="yes", input="Say yes.")], solver=generate(), scorer=rubric_scorer(str(rubric), judge=spec))
    [log] = eval(task, model=get_model("mockllm/model", custom_outputs=answer), log_dir=str(tmp_path), display="none",
                 log_format="json")
    assert log.status == "success" and (log.samples or [])[0].scores["rubric_scorer"].value == 1.0
    assert judge_server.state.count == 2  # one call per criterion, from the Judge the scorer built


def test_a_failed_result_is_the_scorings_failure_only_when_its_input_was_refused():
    assert to_score(ScoreResult.failed(1, RowFailure("no rubric", "input"))).reason == "scoring_failed"
    assert to_score(ScoreResult.failed(1, RowFailure("a reply that cannot be stored", "judge"))).reason == "grader_failed"
