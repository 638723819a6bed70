"""Asking a model to write something as a JSON object: criteria written at judging time (pair-adaptive
criteria) and rubric authoring (generation, refinement) ask the same way.

`generate_json` sends the request through a runner (retries, concurrency, stats), reads the answer
tolerantly (fenced or bare JSON), re-asks a bounded number of times when it does not validate, and
keeps a valid answer (or a deterministic failure) in the judge's cache, so a second identical run
costs no call. The helpers below tell a written criterion that copies the prompt's example of the
answer format, or repeats another one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from judgekit.errors import JudgeError, RunHalted
from judgekit.judging.asking import CacheSlot, Unusable, ask_until_valid, echoed
from judgekit.judging.context import JudgeContext
from judgekit.judging.verdicts import SamplingSettings
from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.runner import CallRunner
from judgekit.protocol.templates import render
from judgekit.protocol.wire import ParseProblem, extract_json_object
from judgekit.secrets import redact, redact_tree

# The example of the answer format in the generation prompts (prompts/rubric_*.j2,
# adaptive_criteria_system.j2): a model that copies it back has written no criterion.
TEMPLATE_EXAMPLE_IDS = frozenset({"short_snake_case_id", "..."})
_PLACEHOLDER_TEXT = re.compile(r"(the response\s*)?(\.\.\.|\u2026)", re.I)


def item_text(item: object) -> str:
    """A proposed criterion's text, whichever key (or bare string) holds it; "" when none does."""
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):
        for key in ("text", "criterion", "description", "title"):
            if isinstance(item.get(key), str) and item[key].strip():
                return item[key].strip()
    return ""


def echoes_template(item: object) -> bool:
    """Whether a proposed criterion is the prompt's example of the answer format, copied back."""
    raw_id = str(item.get("id") or "").strip() if isinstance(item, dict) else ""
    text = item_text(item) if isinstance(item, (dict, str)) else ""
    return raw_id in TEMPLATE_EXAMPLE_IDS or bool(text and _PLACEHOLDER_TEXT.fullmatch(text))


def echo_problem(items: Sequence[object]) -> list[str]:
    """The re-ask reason when some proposed criteria copy the answer format's example."""
    echoed = [str(n) for n, item in enumerate(items, start=1) if echoes_template(item)]
    if not echoed:
        return []
    return [f"criterion {', '.join(echoed)} repeats the example of the answer format (a placeholder such as "
            "'short_snake_case_id' or '...'); write real criteria for this request"]


def normalise_text(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def similar_text(a: str, b: str) -> float:
    """difflib ratio of the normalised texts (1.0: the same words in the same order)."""
    return difflib.SequenceMatcher(None, normalise_text(a), normalise_text(b)).ratio()


class GenerationFailed(Exception):
    """A generation call gave no usable answer (after retries and re-asks)."""


class _Unservable(Exception):
    """The backend could not answer a generation request at all (e.g. it cannot serve the schema)."""


def _from_cache(entry: dict[str, Any]) -> Any:
    """A cached answer, a cached failure (as a GenerationFailed to raise), or None (not usable)."""
    if isinstance(entry.get("object"), (dict, list)):
        return entry["object"]
    if isinstance(entry.get("failure"), str):
        return GenerationFailed(entry["failure"] + " (cached; run with --no-cache to ask again)")
    return None


def _json_answer(completion: Completion, validate: Callable[[Any], list[str]] | None) -> Any:
    try:
        obj: Any = completion.payload if completion.payload is not None else extract_json_object(completion.text)
        problems = validate(obj) if validate else []
    except ParseProblem as exc:
        problems = [str(exc)]
    return Unusable("; ".join(problems[:3])) if problems else redact_tree(obj)  # its text redacted once it is read


def _sender(runner: CallRunner) -> Callable[[JudgeRequest], Awaitable[Completion]]:
    async def send(request: JudgeRequest) -> Completion:
        try:
            return await runner.call(request)
        except (JudgeError, RunHalted):
            raise
        except Exception as exc:
            raise _Unservable(redact(f"the backend could not answer a generation request: {type(exc).__name__}: {exc}")) from None

    return send


def _generation_request(
    sampling: SamplingSettings, messages: Sequence[dict[str, str]], schema: dict[str, object], *,
    temperature: float | None, seed: int | None, max_tokens: int | None,
) -> JudgeRequest:
    """The request for a JSON object following `schema`; unset sampling options are the judge's."""
    return JudgeRequest(
        messages=tuple(messages), schema=schema, mode="pointwise", ids=(),
        temperature=sampling.temperature if temperature is None else temperature,
        max_tokens=sampling.max_tokens if max_tokens is None else max_tokens,
        seed=sampling.seed if seed is None else seed,
    )


async def generate_json(
    context: JudgeContext,
    messages: Sequence[dict[str, str]],
    schema: dict[str, object],
    *,
    validate: Callable[[Any], list[str]] | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    max_tokens: int | None = None,
    max_reasks: int | None = None,
    runner: CallRunner | None = None,
) -> dict[str, Any]:
    """Ask the judge's model (or `runner`'s, e.g. the --generator's) for a JSON object following
    `schema`; run on the judge's loop.

    The answer is parsed tolerantly (fenced or bare JSON); one that does not validate is re-asked,
    a bounded number of times. A valid answer is cached under the request, so asking again costs
    no call. Raises GenerationFailed.
    """
    runner = runner or context.runner
    request = _generation_request(context.sampling, messages, schema, temperature=temperature, seed=seed, max_tokens=max_tokens)
    slot = CacheSlot.of(context.cache, runner, {"purpose": "generate", **request.cache_fields()})
    hit = slot.get(runner, _from_cache)
    if isinstance(hit, GenerationFailed):
        raise hit
    if hit is not None:
        return hit

    def reask(last: JudgeRequest, completion: Completion, problem: str) -> JudgeRequest:
        return replace(last, messages=(*messages, echoed(completion),
                                       {"role": "user", "content": render("rubric_reask.j2", problem=problem)}))

    try:
        asked = await ask_until_valid(
            runner, request, parse=lambda c: _json_answer(c, validate), reask=reask, slot=slot,
            max_reasks=context.collector.max_reasks if max_reasks is None else max_reasks,
            encode=lambda obj: {"object": obj}, send=_sender(runner))
    except JudgeError as exc:
        raise GenerationFailed(f"judge call failed: {exc}") from None
    except _Unservable as exc:
        raise _remembered(slot, str(exc)) from None
    if asked.value is None:
        raise _remembered(slot, f"no usable answer after {asked.asks} ask(s): {asked.problem}")
    return asked.value


def _remembered(slot: CacheSlot, failure: str) -> GenerationFailed:
    # Deterministic failures (the backend cannot serve this schema; no usable answer after the
    # re-asks) are remembered, so an identical run does not pay for them again. Failed calls
    # (transient faults after retries, fatal HTTP errors) are not.
    slot.put({"failure": failure})
    return GenerationFailed(failure)
