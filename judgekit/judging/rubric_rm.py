"""Criteria written per prompt at judging time, rubric-rm (OpenRubrics' two-model setup): a rubric
generator writes each prompt's rubric, hard rules and principles, as a numbered list; the judge then
judges the responses against it (judging.judgment), one criterion per call, in the Rubric-RM judge's
format.

The generator may be another model (`generator=` / `--generator`). Its rubric is made once per
prompt and reference (every response of a GRPO group, both sides of a pair, are judged against the
same criteria), cached on disk like verdicts, and recorded in each output row. A generation that
gives no usable list after the bounded re-asks leaves the given rubric alone and says why.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

from judgekit.data.rows import as_messages, message_text
from judgekit.errors import JudgeError
from judgekit.jsonvalue import JSONValue
from judgekit.judging.asking import CacheSlot, Unusable, ask_until_valid, echoed
from judgekit.judging.context import GeneratedItems, JudgeContext
from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.runner import CallRunner
from judgekit.protocol.answers import answer_region
from judgekit.protocol.profiles import GeneratorProfile
from judgekit.protocol.templates import FENCE, data_nonce, instruction_text, render, render_in
from judgekit.protocol.wire import ParseProblem
from judgekit.rubric.ids import unique_id
from judgekit.rubric.models import Criterion, Rubric
from judgekit.secrets import redact

ID_PREFIX = "rr"
_ITEM = re.compile(
    r"^\s*(?:\d+\s*[.):]|[-*•])\s*(?P<text>.+?)\s*\[\s*(?P<kind>hard[ _-]?rule|principle)\s*\]\s*[.;]?\s*$",
    re.I | re.M,
)
GENERATION_FAILED = "generated_rubric"  # the key under `unscored` that says why no rubric was made


def parse_generated_rubric(text: str, max_criteria: int) -> list[tuple[str, str]]:
    """(text, kind) of each listed item: `N. The response ... [Hard Rule]` or `[Principle]`."""
    _, region = answer_region(text)
    items = [(m.group("text").strip(), "hard_rule" if m.group("kind").lower().startswith("hard") else "principle")
             for m in _ITEM.finditer(region)]
    items = [(t, k) for t, k in items if t]
    if not items:
        raise ParseProblem("no numbered rubric items ending in [Hard Rule] or [Principle]")
    return items[:max_criteria]


def criteria_from_items(items: list[tuple[str, str]], taken: set[str]) -> list[Criterion]:
    out = []
    for text, kind in items:
        base = " ".join(re.sub(r"^the response\s+", "", text, flags=re.I).split()[:6])
        out.append(Criterion(id=unique_id(f"{ID_PREFIX}_{base}", taken), text=text, kind=kind))
    return out


def _generation_request(context: JudgeContext, spec: GeneratorProfile, prompt: object, reference: object) -> JudgeRequest:
    prompt_messages = as_messages(prompt)
    reference_text = message_text(reference) if reference is not None else None
    values = {"fence": FENCE, "nonce": data_nonce(prompt_messages, reference_text),
              "instruction": instruction_text(prompt_messages), "prompt_messages": prompt_messages,
              "reference": reference_text, "max_criteria": spec.max_criteria}
    folder = context.profile.folder
    messages = []
    if spec.system:
        messages.append({"role": "system", "content": render_in(folder, spec.system, values)})
    messages.append({"role": "user", "content": render_in(folder, spec.user, values)})
    sampling = context.sampling
    return JudgeRequest(messages=tuple(messages), schema=None, mode="pointwise", ids=(),
                        temperature=sampling.temperature, max_tokens=spec.max_tokens, seed=sampling.seed)


async def generate_rubric_items(context: JudgeContext, prompt: object, reference: object) -> GeneratedItems:
    """The generator's rubric for one prompt (cached; one call per prompt even when many rows of a
    run share it). Raises JudgeError or ParseProblem with the reason."""
    spec = context.profile.rubric_generator
    assert spec is not None
    runner = context.generator
    request = _generation_request(context, spec, prompt, reference)
    key = runner.cache_key({"purpose": "rubric-rm", **request.cache_fields()})
    pending = context.generations.get(key)
    if pending is None:
        slot = CacheSlot(context.cache, key)
        pending = asyncio.ensure_future(_generate(runner, request, slot, spec.max_criteria, context.config.max_reasks))
        context.generations[key] = pending
    return await asyncio.shield(pending)


def _items(completion: Completion, max_criteria: int) -> GeneratedItems | Unusable:
    try:
        return [(redact(text), kind) for text, kind in parse_generated_rubric(completion.text, max_criteria)]
    except ParseProblem as exc:
        return Unusable(str(exc))


def _reask(request: JudgeRequest, completion: Completion, problem: str) -> JudgeRequest:
    reask = {"role": "user", "content": render("rubric_rm_reask.j2", problem=problem)}
    return replace(request, messages=(*request.messages, echoed(completion), reask))


async def _generate(runner: CallRunner, request: JudgeRequest, slot: CacheSlot, max_criteria: int,
                    max_reasks: int) -> GeneratedItems:
    hit = slot.get(runner, lambda entry: [(t, k) for t, k in entry["items"]])
    if hit is not None:
        return hit
    # A failed call (JudgeError) propagates: the reason is the call's.
    asked = await ask_until_valid(runner, request, parse=lambda c: _items(c, max_criteria), reask=_reask,
                                  max_reasks=max_reasks, slot=slot, encode=lambda items: {"items": [list(i) for i in items]})
    if asked.value is None:
        raise ParseProblem(f"no usable rubric after {asked.asks} ask(s): {asked.problem}")
    return asked.value


async def with_generated_criteria(
    context: JudgeContext, rubric: Rubric, prompt: object, reference: object
) -> tuple[Rubric, list[dict[str, JSONValue]]]:
    """The rubric plus the generated criteria, and those criteria as output-row objects. On a failed
    generation: the rubric as given, and one entry naming the reason."""
    try:
        items = await generate_rubric_items(context, prompt, reference)
    except (JudgeError, ParseProblem) as exc:
        return rubric, [{"error": f"rubric generation failed: {exc}"}]
    generated = criteria_from_items(items, set(rubric.ids))
    merged = Rubric(name=rubric.name, description=rubric.description, version=rubric.version,
                    criteria=(*rubric.criteria, *generated), aggregation=rubric.aggregation, view=rubric.view)
    return merged, [{"id": c.cid, "text": c.text, "kind": c.kind} for c in generated]


