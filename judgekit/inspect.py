"""An Inspect AI scorer that judges each sample's output against a rubric (extra `[inspect]`).

`rubric_scorer(rubric, judge=...)` returns an Inspect `Scorer`: the sample's input is the prompt,
its output the response, its target (if any) the reference, and a rubric in the sample's metadata
(any per-row format judgekit reads) replaces the one given. The `Score` carries the reward as its
value, the score row (per-criterion `scores`, `unscored` reasons, `coverage`) as metadata and the
judge's reasoning per criterion as explanation.

A response judgekit cannot give a reward (a judge that failed, a criterion left unscored below the
coverage rule) is never a number: it is Inspect's own unscored score (`Score.unscored`, value NaN,
`reason` "grader_failed", or "scoring_failed" when the sample itself could not be judged: bad input,
such as no rubric or one that cannot be read, which the failed result names as its input's). Inspect
leaves those samples out of every metric and counts them as `unscored_samples` in the eval log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai.model import ChatMessage
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState

from judgekit.errors import InputError
from judgekit.judge import Judge, JudgeLike, judge_or_spec
from judgekit.judging.results import ROW_FAILED, ScoreResult, score_verdict
from judgekit.rubric.models import Rubric, load_rubric
from judgekit.secrets import redact, redact_tree

GRADER_FAILED = "grader_failed"  # Inspect's reason when the grading model gave no usable verdict
SCORING_FAILED = "scoring_failed"  # Inspect's reason when the scorer could not run on the sample
_NOT_IN_METADATA = ("id", "reward", "explanations", "thinking")


@scorer(metrics=[mean(), stderr()])
def rubric_scorer(
    rubric: Rubric | str | Path | None = None,
    *,
    judge: JudgeLike = "local",
    base_url: str | None = None,
    **config: Any,
) -> Scorer:
    """Judge each sample's output with `rubric` (a Rubric or a YAML path; samples may carry their own
    under metadata["rubric"]). `judge`: a Judge, a JudgeSpec (a panel's too) or a spec string
    ("openai:MODEL", "local", ...), with `base_url` and JudgeConfig fields in `config` as a shorthand
    for its JudgeSpec; built here (keys come from the environment, never from arguments: Inspect
    writes a scorer's arguments into its log)."""
    if "api_key" in config:
        raise InputError("give the key in the environment (e.g. OPENAI_API_KEY) or pass a Judge built with it: "
                         "Inspect writes a scorer's arguments into its log", field="api_key")
    the_rubric = load_rubric(rubric) if isinstance(rubric, (str, Path)) else rubric
    described = judge_or_spec(judge, call="rubric_scorer()", base_url=base_url, settings=config,
                              arguments=("rubric", "judge", "base_url"))
    the_judge = described if isinstance(described, Judge) else described.build()

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion
        row = {**(state.metadata or {}), "id": state.sample_id, "prompt": _prompt(state.input), "response": answer}
        if target.target:
            row["reference"] = target.text
        try:
            [result] = await the_judge.ascore([row], the_rubric, explain=True)
        except InputError as exc:  # a sample whose row cannot be read (its own rubric, bad): not judged at all
            return Score.unscored(reason=SCORING_FAILED, answer=answer, explanation=redact(str(exc)),
                                  metadata={"unscored": {ROW_FAILED: redact(str(exc))}})
        return to_score(result, answer)

    return score


def to_score(result: ScoreResult, answer: str | None = None) -> Score:
    """Inspect's Score of one judged response: the reward, or Inspect's unscored score when there is none
    (the scoring's failure when the row's input was refused, else the grader's)."""
    row = redact_tree(result.model_dump())
    metadata = {k: v for k, v in row.items() if k not in _NOT_IN_METADATA}
    explanation = _explanation(row)
    if result.reward is None:
        reason = SCORING_FAILED if result.failure == "input" else GRADER_FAILED
        return Score.unscored(reason=reason, answer=answer, explanation=explanation, metadata=metadata)
    return Score(value=result.reward, answer=answer, explanation=explanation, metadata=metadata)


def _explanation(row: dict[str, Any]) -> str:
    """One line per criterion: its verdict, then the judge's reasoning (or why it is unscored)."""
    reasoning: dict[str, str] = row.get("explanations") or {}
    lines = []
    for cid, value in row["scores"].items():
        verdict = score_verdict(row, cid)
        if verdict == "rated":
            verdict = f"rated {row['ratings'][cid]}"
        why = row["unscored"].get(cid) if value is None else reasoning.get(cid)
        lines.append(f"{cid}: {verdict}" + (f" - {why}" if why else ""))
    if ROW_FAILED in row["unscored"]:
        lines.append(f"not judged: {row['unscored'][ROW_FAILED]}")
    return "\n".join(lines)


def _prompt(value: str | list[ChatMessage]) -> str | list[dict[str, str]]:
    """The sample's input as judgekit's prompt: its text, or its chat messages as role and text."""
    if isinstance(value, str):
        return value
    return [{"role": m.role, "content": m.text} for m in value]
