"""Soft verdicts for the judgekit JSON wire format: P(verdict) from token log-probabilities.

Native formats are read by judgekit.answers.native_distribution; both give a distribution over
the verdict labels ("true"/"false" pointwise, "A"/"B"/"tie" pairwise).
"""

from __future__ import annotations

import math
import re

from judgekit.backends.base import Completion
from judgekit.wire import Mode

_VALUE_AFTER = {"pointwise": r'"met"\s*:\s*"?', "pairwise": r'"preference"\s*:\s*"?'}


def _label(token: str, mode: Mode) -> str | None:
    """The verdict label a token starts (a tokenizer may split `true` or `tie` into pieces)."""
    t = token.strip().strip('"').strip()
    if not t:
        return None
    labels = ("true", "false") if mode == "pointwise" else ("A", "B", "tie")
    for label in labels:
        if (t == label) if len(label) == 1 else label.startswith(t.lower()):
            return label
    return None


def json_verdict_distribution(completion: Completion, mode: Mode, cid: str) -> dict[str, float] | None:
    """The judge's probabilities over the verdict labels of one criterion, from the token
    log-probabilities of the verdict token (the token itself and its top alternatives), normalised
    over the labels found. None when the completion carries no usable log-probabilities."""
    tokens = completion.token_logprobs or []
    if not tokens:
        return None
    text = "".join(str(t.get("token", "")) for t in tokens)
    anchor = re.search(r'"criterion_id"\s*:\s*"' + re.escape(cid) + '"', text)
    if anchor is None:
        return None
    value = re.compile(_VALUE_AFTER[mode]).search(text, anchor.end())
    if value is None:
        return None
    offset, pos = value.end(), 0
    for tok in tokens:
        end = pos + len(str(tok.get("token", "")))
        if end > offset:
            break
        pos = end
    else:
        return None
    mass: dict[str, float] = {}
    for alt in [tok, *(tok.get("top_logprobs") or [])]:
        label = _label(str(alt.get("token", "")), mode)
        lp = alt.get("logprob")
        if label is not None and isinstance(lp, (int, float)) and label not in mass:
            mass[label] = math.exp(lp)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {k: v / total for k, v in mass.items()}
