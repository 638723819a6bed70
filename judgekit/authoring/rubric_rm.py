"""rubric-rm (OpenRubrics' two-model setup): a rubric generator writes each prompt's rubric, hard
rules and principles, as a numbered list; the judge then judges the responses against it, one
criterion per call, in the Rubric-RM judge's format.

The generator may be another model (`generator=` / `--generator`). Its rubric is made once per
prompt and reference (every response of a GRPO group, both sides of a pair, are judged against the
same criteria), cached on disk like verdicts, and recorded in each output row. A generation that
gives no usable list after the bounded re-asks leaves the given rubric alone and says why.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from judgekit.llm.base import JudgeRequest
from judgekit.llm.cache import cache_key
from judgekit.errors import JudgeError
from judgekit.protocol.answers import answer_region
from judgekit.authoring.generate import unique_id
from judgekit.protocol.templates import FENCE, instruction_text, render, render_in
from judgekit.data.rows import as_messages, message_text
from judgekit.rubric.models import Criterion, Rubric
from judgekit.protocol.wire import ParseProblem

if TYPE_CHECKING:
    from judgekit.judge import Judge

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
        out.append(Criterion(id=unique_id(f"{ID_PREFIX}_{base}", taken), text=text, kind=kind))  # type: ignore[arg-type]
    return out


async def generate_rubric_items(judge: "Judge", prompt: Any, reference: Any) -> list[tuple[str, str]]:
    """The generator's rubric for one prompt (cached; one call per prompt even when many rows of a
    run share it). Raises JudgeError or ParseProblem with the reason."""
    spec = judge.profile.rubric_generator
    assert spec is not None
    prompt_messages = as_messages(prompt)
    context = {"fence": FENCE, "instruction": instruction_text(prompt_messages), "prompt_messages": prompt_messages,
               "reference": message_text(reference) if reference is not None else None,
               "max_criteria": spec.max_criteria}
    messages = []
    if spec.system:
        messages.append({"role": "system", "content": render_in(judge.profile.folder, spec.system, context)})
    messages.append({"role": "user", "content": render_in(judge.profile.folder, spec.user, context)})
    runner = judge.generator_runner()
    sampling = judge.sampling()
    request = JudgeRequest(messages=tuple(messages), schema=None, mode="pointwise", ids=(),
                           temperature=sampling.temperature, max_tokens=spec.max_tokens, seed=sampling.seed)
    key = cache_key(runner.backend.identity(), {"purpose": "rubric-rm", **request.cache_fields()})
    pending = judge.generations.get(key)
    if pending is None:
        pending = asyncio.ensure_future(_generate(judge, runner, request, key, spec.max_criteria))
        judge.generations[key] = pending
    return await asyncio.shield(pending)


async def _generate(judge: "Judge", runner: Any, request: JudgeRequest, key: str, max_criteria: int) -> list[tuple[str, str]]:
    cache = judge.cache
    if cache is not None and (hit := cache.get(key)) is not None:
        runner.stats.cache_hits += 1
        return [(t, k) for t, k in hit["items"]]
    problem = "no answer"
    for ask in range(1 + judge.config.max_reasks):
        if ask:
            runner.stats.reasks += 1
        completion = await runner.call(request)  # JudgeError propagates: the reason is the call's
        try:
            items = parse_generated_rubric(completion.text, max_criteria)
        except ParseProblem as exc:
            problem = str(exc)
            request = replace(request, messages=(*request.messages, {"role": "assistant", "content": completion.text[:2000]},
                                                 {"role": "user", "content": render("rubric_rm_reask.j2", problem=problem)}))
            continue
        if cache is not None:
            cache.put(key, {"items": [list(i) for i in items]})
        return items
    raise ParseProblem(f"no usable rubric after {1 + judge.config.max_reasks} ask(s): {problem}")


async def with_generated_criteria(
    judge: "Judge", rubric: Rubric, prompt: Any, reference: Any
) -> tuple[Rubric, list[dict[str, Any]]]:
    """The rubric plus the generated criteria, and those criteria as output-row objects. On a failed
    generation: the rubric as given, and one entry naming the reason."""
    try:
        items = await generate_rubric_items(judge, prompt, reference)
    except (JudgeError, ParseProblem) as exc:
        return rubric, [{"error": f"rubric generation failed: {exc}"}]
    generated = criteria_from_items(items, set(rubric.ids))
    merged = Rubric(name=rubric.name, description=rubric.description, version=rubric.version,
                    criteria=(*rubric.criteria, *generated))
    return merged, [{"id": c.cid, "text": c.text, "kind": c.kind} for c in generated]


def empty_rubric(name: str = "rubric-rm") -> Rubric:
    """The starting rubric when only generated criteria are used (no --rubric given)."""
    return Rubric.model_construct(name=name, description="", version=1, criteria=(), provenance=None)
