"""The rubric and scripted verdicts the reward-function tests share (TRL, verl): MET when the
response names the criterion."""

from __future__ import annotations

from judgekit.rubric.models import rubric_from_data

RUBRIC = rubric_from_data({
    "name": "test-rubric",
    "criteria": [
        {"id": "polite", "text": "The response is polite.", "weight": 2},
        {"id": "correct", "text": "The response is correct.", "weight": 2},
        {"id": "rude", "text": "The response insults the user.", "weight": -1},
        {"id": "safe", "text": "No harmful advice.", "kind": "hard_rule"},
    ],
})


def script(cid: str, response: str) -> bool:
    """MET when the response names the criterion; 'rude' MET only when the response says 'idiot'."""
    if cid == "rude":
        return "idiot" in response
    if cid == "safe":
        return "danger" not in response
    return cid in response
