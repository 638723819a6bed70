"""Soft verdicts: P(verdict) from token log-probabilities.

Read at the token where the verdict starts: that token and its top alternatives, each mapped to a
verdict label ("true"/"false" pointwise, "A"/"B"/"tie" pairwise), normalised over the labels found.
The judgekit JSON wire format finds that token after the criterion's "met"/"preference" key; a
native format (judgekit.protocol.answers) where its parser's regex puts the verdict. The tokens are
OpenAI-shaped (`Completion.token_logprobs`); each backend converts its own form to that shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from judgekit.llm.base import Completion
from judgekit.protocol.answers import AnswerParser, answer_region, regex_matches
from judgekit.protocol.wire import Mode, ParseProblem

Token = dict[str, Any]

_VALUE_AFTER = {"pointwise": r'"met"\s*:\s*"?', "pairwise": r'"preference"\s*:\s*"?'}


def _token_at(tokens: list[Token], offset: int) -> tuple[Token, int] | None:
    """The token covering character `offset` of the joined text, and where that token starts."""
    pos = 0
    for tok in tokens:
        end = pos + len(str(tok.get("token", "")))
        if end > offset:
            return tok, pos
        pos = end
    return None


def _distribution(tok: Token, label: Callable[[str], str | None], *, add: bool) -> dict[str, float] | None:
    """P(label) over the token and its alternatives, normalised. `add`: sum the alternatives that
    spell the same label (a 1-5 scale read as MET at 4: P(MET) = P(4) + P(5)); else the first wins."""
    mass: dict[str, float] = {}
    seen: set[str] = set()  # the chosen token usually appears among its top alternatives too
    for alt in [tok, *(tok.get("top_logprobs") or [])]:
        text, lp = str(alt.get("token", "")), alt.get("logprob")
        if text in seen or not isinstance(lp, (int, float)):
            continue
        seen.add(text)
        name = label(text)
        if name is None or (name in mass and not add):
            continue
        mass[name] = mass.get(name, 0.0) + math.exp(lp)
    total = sum(mass.values())
    return {k: v / total for k, v in mass.items()} if total > 0 else None


# ---- the judgekit JSON wire format --------------------------------------------------------------


def _json_label(token: str, mode: Mode) -> str | None:
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
    """The judge's probabilities over the verdict labels of one criterion. None when the
    completion carries no usable log-probabilities."""
    tokens = completion.token_logprobs or []
    if not tokens:
        return None
    text = "".join(str(t.get("token", "")) for t in tokens)
    anchor = re.search(r'"criterion_id"\s*:\s*"' + re.escape(cid) + '"', text)
    if anchor is None:
        return None
    value = re.compile(_VALUE_AFTER[mode]).search(text, anchor.end())
    if value is None or (found := _token_at(tokens, value.end())) is None:
        return None
    return _distribution(found[0], lambda t: _json_label(t, mode), add=False)


# ---- native formats -----------------------------------------------------------------------------


def label_of(value: bool | str) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def native_distribution(completion: Completion, parser: AnswerParser) -> dict[str, float] | None:
    """The judge's probabilities over the verdicts, read at the token where the (last) verdict
    starts, each alternative mapped through the profile's values."""
    tokens = completion.token_logprobs or []
    if parser.type != "regex" or not tokens:
        return None
    text = "".join(str(t.get("token", "")) for t in tokens)
    try:
        offset, region = answer_region(text)
    except ParseProblem:
        return None
    matches = regex_matches(parser, region)
    if not matches:
        return None
    at = offset + matches[-1].start("verdict")
    found = _token_at(tokens, at)
    if found is None:
        return None
    tok, pos = found
    rel = at - pos
    head = str(tok.get("token", ""))[:rel]

    def label(alt_text: str) -> str | None:
        if not alt_text.startswith(head):
            return None
        value = _value_starting(parser, alt_text[rel:])
        return None if value is None else label_of(value)

    return _distribution(tok, label, add=True)


def _value_starting(parser: AnswerParser, piece: str) -> bool | str | None:
    """The verdict a token piece spells or starts (tokenizers split 'Yes' or '[[A]]' differently)."""
    piece = piece.strip()
    if not piece:
        return None
    found = {v for k, v in parser.values.items() if _starts(k, piece, parser.ignore_case)}
    return found.pop() if len(found) == 1 else None


def _starts(whole: str, part: str, ignore_case: bool) -> bool:
    if ignore_case:
        whole, part = whole.lower(), part.lower()
    if len(part) < len(whole):
        return whole.startswith(part)
    # The token may run on past the verdict ("A]]", "Yes,"): it must end where a word ends.
    return part.startswith(whole) and (len(part) == len(whole) or not part[len(whole)].isalnum())
