"""The real thing: TRL's GRPOTrainer runs two steps on a tiny local model with judgekit's reward."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

try:
    import trl  # noqa: F401  (the example runs in a subprocess; this only checks it can)

    HAVE_TRL = True
except ImportError:
    HAVE_TRL = False

pytestmark = pytest.mark.skipif(not HAVE_TRL, reason="trl is not installed (pip install torch==2.13.0 trl==1.16.0)")


def run_example(*args: str) -> dict:
    # this checkout's judgekit, whichever one the environment has installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "grpo_trl.py"), *args], capture_output=True, text=True,
        timeout=600, cwd=str(ROOT), env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_grpo_steps_with_judgekit_reward():
    summary = run_example("--steps", "2")
    assert summary["steps"] == 2
    assert summary["judge_requests"] > 0 and summary["judge_stats"]["failed_calls"] == 0
    assert len(summary["reward_means"]) == 2
    assert all(isinstance(m, float) and 0.0 <= m <= 1.0 for m in summary["reward_means"])
    # per-criterion means reached TRL's logs through log_metric
    assert "judgekit/answers" in summary["criterion_means"]


def test_failing_judge_gives_none_and_steps_still_complete():
    summary = run_example("--steps", "2", "--server-error", "1.0", "--strict")
    assert summary["steps"] == 2
    assert summary["judge_requests"] > 0
    assert summary["judge_stats"]["failed_calls"] == summary["judge_stats"]["calls"] > 0
    # every reward was None (NaN in TRL): the logged mean is missing, never 0
    assert summary["reward_means"] and all(m is None for m in summary["reward_means"])
    assert summary["criterion_means"]["judgekit/unscored_frac"] == 1.0


def test_two_grpo_steps_with_the_picklable_reward_object():
    summary = run_example("--steps", "2", "--picklable")
    assert summary["steps"] == 2
    assert summary["judge_stats"]["calls"] > 0 and summary["judge_stats"]["failed_calls"] == 0
    assert len(summary["reward_means"]) == 2 and all(0.0 <= m <= 1.0 for m in summary["reward_means"])
    assert "judgekit/answers" in summary["criterion_means"]


def test_grpo_steps_with_canaries_an_audit_and_rubric_dropout_log_what_they_measure():
    summary = run_example("--steps", "2", "--guards")
    assert summary["steps"] == 2 and summary["judge_stats"]["failed_calls"] == 0
    logged = summary["criterion_means"]
    # through TRL's log_metric, per step: a canary rate per family built from the batch, the audit, the dropout
    assert {"judgekit/canary_fpr/master-key", "judgekit/canary_fpr/self-praise", "judgekit/audit_agreement/reward",
            "judgekit/audit_reward_gap", "judgekit/audit_failed", "judgekit/rubric_dropout/kept"} <= set(logged)
    assert logged["judgekit/canary_n"] > 0 and logged["judgekit/canary_masked"] == 0.0
    assert logged["judgekit/audit_reward_gap"] == 0.0  # the audit judge is the same scripted judge
    assert 0 < logged["judgekit/rubric_dropout/kept"] < 1
    # the policy's rewards are the batch's own (the canaries' are logged, never in them)
    assert len(summary["reward_means"]) == 2 and all(0.0 <= m <= 1.0 for m in summary["reward_means"])


def test_grpo_steps_with_tool_call_completions_reward_what_the_tool_returned():
    summary = run_example("--steps", "2", "--tools")
    assert summary["steps"] == 2 and summary["judge_stats"]["failed_calls"] == 0
    # TRL parsed every other completion's call from the template's format and ran the tool
    assert summary["tool_calls_per_completion"] == [0.5, 0.5]
    # under the rubric's `view: full` the judge was shown each call, with its arguments, and the tool's result
    assert summary["judged_with_tool_call"] == summary["judged_with_tool_result"] == 4
    # the judge marks a reply grounded only by the reading in the tool's result: the completions that called it
    assert summary["reward_means"] == [0.5, 0.5]
