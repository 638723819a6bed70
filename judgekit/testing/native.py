"""Native answer formats for the scripted judge server (judgekit.testing.server): it recognises each
built-in profile's prompt, reads the responses and the criterion from it, and answers in that
profile's own format, well-formed or in a named malformed variant.

For native prompts the script's first argument is the criterion's text (native prompts carry no
criterion id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# profile -> (marker in the prompt, criterion regex)
_S = re.S
# Every built-in profile fences the texts it judges (judgekit.protocol.templates.fenced).
_RESPONSE = re.compile(r"<judgekit-response-(?P<n>[0-9a-f]{12})>\n(?P<text>.*?)\n</judgekit-response-(?P=n)>", _S)
_PAIR = re.compile(r"<judgekit-response-a-(?P<n>[0-9a-f]{12})>\n(?P<a>.*?)\n</judgekit-response-a-(?P=n)>.*?"
                   r"<judgekit-response-b-(?P=n)>\n(?P<b>.*?)\n</judgekit-response-b-(?P=n)>", _S)
_PROMPTS: dict[str, dict[str, Any]] = {
    "rm-r1": {
        "marker": "[Client Question]",
        "criterion": re.compile(r"(?:criterion only|satisfies this criterion): (.*?)(?: \(it describes|\n)"),
    },
    "prometheus2": {
        "marker": "###Task Description:",
        "criterion": re.compile(r"###Score Rubrics?:\n\[(.*?)(?: \(this describes.*?)?\]\n", _S),
    },
    "rubric-rm": {
        "marker": "Task to Evaluate:",
        "criterion": re.compile(r"Rubric:\n1\. (.*?) \[(?:Hard Rule|Principle)\]"),
    },
    "yes-no": {
        "marker": "Principle: ",
        "criterion": re.compile(r"Principle: (.*?)(?: \(this describes.*?\))?\n"),
    },
}

# Well-formed answers: (verdict text) -> reply. Pointwise verdicts are True/False.
_WELL_FORMED: dict[str, dict[str, Callable[[Any, str], str]]] = {
    "rm-r1": {
        "pointwise": lambda met, why: (
            f"<type>Chat</type>\n<rubric>{why}</rubric>\n<eval>{why}</eval>\n<answer>[[{'YES' if met else 'NO'}]]</answer>"
        ),
        "pairwise": lambda pref, why: f"<type>Chat</type>\n<rubric>{why}</rubric>\n<eval>{why}</eval>\n<answer>[[{pref}]]</answer>",
    },
    "prometheus2": {
        "pointwise": lambda met, why: f"Feedback: {why} [RESULT] {met if type(met) is int else 5 if met else 2}",
        "pairwise": lambda pref, why: f"Feedback: {why} [RESULT] {pref}",
    },
    "rubric-rm": {
        "pointwise": lambda met, why: f"--- Analysis ---\nJustification: {why}\n--- Final Judgment ---\nVerdict: {'Yes' if met else 'No'}",
        "pairwise": lambda pref, why: (f"--- Analysis ---\n**Response A:** {why}\n**Response B:** {why}\n"
                                       f"--- Final Judgment ---\nJustification: {why}\nWinner: Response {pref}"),
    },
    "yes-no": {
        "pointwise": lambda met, why: "Yes" if met else "No",
        "pairwise": lambda pref, why: "Yes" if pref == "A" else "No",
    },
}

# Malformed variants of each format: none of them names a verdict that may be read.
MALFORMED: dict[str, dict[str, dict[str, str]]] = {
    "rm-r1": {
        "pointwise": {
            "no_answer_tag": "<type>Chat</type>\n<eval>The response satisfies it.</eval>\nSo my verdict is YES.",
            "unknown_label": "<eval>ok</eval>\n<answer>[[MAYBE]]</answer>",
            "cut_off_thinking": "<think>Let me look at the response. First, the criterion asks",
            "conflicting": "<answer>[[YES]]</answer> on reflection <answer>[[NO]]</answer>",
            "empty": "",
        },
        "pairwise": {
            "no_answer_tag": "<type>Chat</type>\n<eval>A is better.</eval>\nChatbot A is better.",
            "unknown_label": "<eval>both fine</eval>\n<answer>[[C]]</answer>",
            "cut_off_thinking": "<think>Comparing the two chatbots, A says",
            "conflicting": "<answer>[[A]]</answer> wait, actually <answer>[[B]]</answer>",
            "empty": "",
        },
    },
    "prometheus2": {
        "pointwise": {
            "no_result": "Feedback: The response is good and meets the criterion. Score: 4",
            "out_of_range": "Feedback: Excellent. [RESULT] 7",
            "fraction": "Feedback: Mostly fine. [RESULT] 4.5",
            "cut_off": "Feedback: The response addresses the instruction but",
            "conflicting": "Feedback: [RESULT] 2 ... on second thought [RESULT] 5",
        },
        "pairwise": {
            "no_result": "Feedback: Response A is more accurate than Response B.",
            "tie": "Feedback: Both are equally good. [RESULT] Tie",
            "unknown_label": "Feedback: Neither. [RESULT] C",
            "cut_off": "Feedback: Comparing the two responses,",
            "conflicting": "Feedback: [RESULT] A. No wait: [RESULT] B",
        },
    },
    "rubric-rm": {
        "pointwise": {
            "no_verdict": "--- Analysis ---\nJustification: fine\n--- Final Judgment ---\nJustification: it meets the rubric",
            "echoed_template": "--- Final Judgment ---\nVerdict: <Yes / No>",
            "unknown_label": "--- Final Judgment ---\nVerdict: Partially",
        },
        "pairwise": {
            "no_winner": "--- Analysis ---\n**Response A:** good\n**Response B:** good\n--- Final Judgment ---\nJustification: close call",
            "echoed_template": "--- Final Judgment ---\nJustification: x\nWinner: <Response A / Response B>",
            "unknown_label": "--- Final Judgment ---\nJustification: x\nWinner: Response C",
            "conflicting": "Winner: Response A\nWinner: Response B",
        },
    },
    "yes-no": {
        "pointwise": {"maybe": "Maybe", "both": "Yes and no.", "empty": "", "refusal": "I cannot judge this."},
        "pairwise": {"maybe": "Maybe", "both": "Yes and no.", "empty": "", "refusal": "I cannot judge this."},
    },
}


GENERATOR_MARKER = "rubric-style instructions"
DEFAULT_GENERATED_RUBRIC = (
    "1. The response gives the correct final answer. [Hard Rule]\n"
    "2. The response explains its reasoning briefly. [Principle]\n"
    "3. The response is polite. [Principle]"
)
# The labels each native format can answer (the alternatives offered in scripted log-probabilities).
LABELS = {
    ("rm-r1", "pointwise"): ["YES", "NO"], ("rm-r1", "pairwise"): ["A", "B"],
    ("prometheus2", "pointwise"): ["1", "2", "3", "4", "5"], ("prometheus2", "pairwise"): ["A", "B"],
    ("rubric-rm", "pointwise"): ["Yes", "No"], ("rubric-rm", "pairwise"): ["A", "B"],
    ("yes-no", "pointwise"): ["Yes", "No"], ("yes-no", "pairwise"): ["Yes", "No"],
}


def native_mode(profile: str, text: str) -> str:
    return "pairwise" if _PAIR.search(text) else "pointwise"


def native_verdict(profile: str, text: str, content: str) -> tuple[str, bool | str, str] | None:
    """(criterion text, verdict as the script gave it, verdict token) of a well-formed answer."""
    mode = native_mode(profile, text)
    labels = LABELS[(profile, mode)]
    tokens = re.findall(r"\w+", content)
    token = next((t for t in reversed(tokens) if t in labels), None)
    if token is None:
        return None
    crit = _PROMPTS[profile]["criterion"].search(text)
    if mode == "pointwise":
        value: bool | str = token in ("YES", "Yes", "4", "5")
    else:
        value = {"Yes": "A", "No": "B"}.get(token, token)
    return (crit.group(1) if crit else ""), value, token


def native_profile(text: str) -> str | None:
    """Which built-in native profile wrote this user prompt (None: judgekit's own or unknown)."""
    for name in ("prometheus2", "rubric-rm", "rm-r1", "yes-no"):
        if _PROMPTS[name]["marker"] in text:
            return name
    return None


def native_answer(profile: str, text: str, met: Callable[[str, str], bool | int | str], prefer: Callable[[str, str, str], str],
                  reasoning: str, malformed: str | None = None) -> str:
    spec = _PROMPTS[profile]
    pair = _PAIR.search(text)
    mode = "pairwise" if pair else "pointwise"
    if malformed:  # a variant named for the other mode (a hard rule judged pointwise in compare): the mode's first
        variants = MALFORMED[profile][mode]
        return variants.get(malformed) or next(iter(variants.values()))
    crit = spec["criterion"].search(text)
    criterion = crit.group(1) if crit else ""
    if pair:
        pref = prefer(criterion, pair.group("a"), pair.group("b"))
        if pref == "tie":  # none of these formats has a tie: a tied judge falls back on position
            pref = "A"
        return _WELL_FORMED[profile]["pairwise"](pref, reasoning)
    found = _RESPONSE.search(text)
    verdict = met(criterion, found.group("text") if found else "")
    # A rating (an int that is not a bool) stays one for formats that answer with numbers.
    return _WELL_FORMED[profile]["pointwise"](verdict if type(verdict) is int else bool(verdict), reasoning)
