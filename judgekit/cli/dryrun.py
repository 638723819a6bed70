"""`--dry-run`: the calls a run would make, and for a priced model its estimated cost, without a call.

The calls are counted from each row's rubric (its own, or --rubric): the model-judged criteria, grouped
as --criteria-per-call asks, times --samples, times the orders and responses the command judges (compare:
both orders; rank: by strategy). The cost is an estimate: prompt tokens from the characters sent (the
row's texts, the criteria's texts and the prompt template, about four characters a token) and a short
answer per call, at the model's list price. Cached verdicts would make a real run cheaper.
"""

from __future__ import annotations

import json
import math

from judgekit.cli.common import err
from judgekit.cli.options import JudgeOptions
from judgekit.data.rows import FileRows, InputRow
from judgekit.llm.pricing import pricing_for
from judgekit.rubric.models import Rubric

TEMPLATE_CHARS, CHARS_PER_TOKEN, ANSWER_TOKENS = 1500, 4, 80


def _judgings(command: str, row: InputRow, strategy: str | None) -> tuple[int, int]:
    """How many times a row's criteria are judged, and the characters of the texts each judging sends."""
    text = lambda v: len(v) if isinstance(v, str) else len(json.dumps(v))  # noqa: E731
    prompt = text(row.fields.get("prompt"))
    if command == "score":
        return 1, prompt + text(row.fields.get("response"))
    if command == "compare":
        return 2, prompt + text(row.fields.get("response_a")) + text(row.fields.get("response_b"))
    given = row.fields.get("responses")
    responses = given if isinstance(given, list) else []
    n, each = len(responses), (sum(text(r) for r in responses) // max(1, len(responses)))
    if strategy == "pointwise":
        return n, prompt + each
    pairs = n * (n - 1) // 2 if strategy == "round_robin" else max(0, n - 1)
    return 2 * pairs, prompt + 2 * each


def dry_run(command: str, rows: FileRows, rubric: Rubric | None, options: JudgeOptions, strategy: str | None = None) -> None:
    config = options.config
    calls = chars = count = 0
    for row in rows:
        count += 1
        own = row.rubric or rubric
        judged = own.model_judged if own is not None else []
        per = config.criteria_per_call
        groups = len(judged) if per == "one" else (1 if per == "all" else math.ceil(len(judged) / int(per))) if judged else 0
        times, sent = _judgings(command, row, strategy)
        n = groups * times * config.samples
        calls += n
        chars += n * (sent + TEMPLATE_CHARS) + times * config.samples * sum(len(c.text or "") for c in judged)
    spec = options.spec.judge if not options.spec.members else ", ".join(j.judge for j in options.spec.members)
    err.print(f"dry run: {count} rows; {calls} judge calls ({spec}), about {chars // CHARS_PER_TOKEN} prompt tokens "
              f"and {calls * ANSWER_TOKENS} completion tokens", highlight=False)
    pricing = pricing_for(options.spec.judge) if not options.spec.members else None
    if pricing is not None and pricing.prices is not None:
        cost = pricing.prices.cost(chars // CHARS_PER_TOKEN, calls * ANSWER_TOKENS)
        err.print(f"  estimated cost: ${float(cost):.4f} at list price (before any cache hit)", highlight=False)
    else:
        err.print(f"  cost: {pricing.reason if pricing is not None else 'a panel or cascade: see each judge'}", highlight=False)
