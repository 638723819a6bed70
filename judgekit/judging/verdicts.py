"""From judge requests to verdicts: cache, re-ask on bad answers, unscored with a reason.

One `collect` call asks the judge about a set of criteria (all in one call, or one of many calls
for a row). The judge's profile says how the answer is asked for (judgekit's JSON schema, or the
judge's native format) and how it is read. Verdicts that validate are kept; the ids still missing
are re-asked, a bounded number of times, naming what was wrong; whatever is still missing ends
unscored with the reason.

Repeated samples (`samples` > 1): the question is asked that many times, sample i with seed + i
and its own cache entry; each criterion's verdict is the majority of the samples that answered
(judgekit.judging.votes), its distribution the share of each verdict.

Two-phase mode (for reasoning judges): the judge first thinks freely (no schema, a capped token
budget); if that reply already holds every verdict, it is used; otherwise the thinking is handed
back and the final answer is asked for, constrained (schema) or in the native format. Structured
output from the first token would otherwise cut a reasoning model's chain of thought short.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from judgekit.errors import JudgeError
from judgekit.judging.agreement import AgreementLog
from judgekit.judging.asking import NO_CACHE, CacheSlot, Unusable, ask_until_valid, echoed
from judgekit.judging.votes import Vote, decide, shares
from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.cache import VerdictCache
from judgekit.llm.fanout import gather_all
from judgekit.llm.runner import CallRunner
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.profiles import JudgeProfile, load_profile
from judgekit.protocol.templates import reask_message, render
from judgekit.protocol.wire import Forms, Mode, ParseProblem, Value, WireVerdict
from judgekit.rubric.models import View
from judgekit.secrets import redact

Messages = list[dict[str, str]]
# The chat messages of one question, as a given collector asks it (its profile's templates, its
# name masking): a panel asks each of its judges in that judge's own way.
Render = Callable[["VerdictCollector"], Messages]

_THINK_BLOCK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S | re.I)
_THINK_TAG = re.compile(r"</?think>", re.I)


@dataclass(frozen=True)
class CriterionVerdict:
    value: Value | None  # pointwise: met or a rating; pairwise: "A" | "B" | "tie"; or not_applicable; None: unscored
    reasoning: str = ""
    reason: str | None = None  # why it is unscored
    dist: dict[str, float] | None = None  # P(label) from log-probabilities, when asked and available
    thinking: str = ""  # a reasoning judge's free thinking (two-phase mode, <think>, reasoning fields)
    decided_by: str | None = None  # a cascade's judge whose verdict this is (judgekit.judging.cascade)

    @property
    def scored(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = 0


@dataclass(frozen=True)
class ThinkingSettings:
    two_phase: bool = False
    max_tokens: int = 2048  # the thinking budget of the first phase


def split_thinking(completion: Completion) -> tuple[str, str]:
    """(thinking, visible answer) of a reply: a server's reasoning field plus <think> blocks."""
    text = completion.text
    if not _THINK_TAG.search(text):  # most replies: no <think> block to take out
        return completion.reasoning.strip(), text.strip()
    blocks = [m.group(1).strip() for m in _THINK_BLOCK.finditer(text)]
    if "</think>" in text.lower() and not blocks:  # the opening tag was in the chat template
        head, _, text = text.rpartition("</think>")
        blocks = [head.strip()]
    visible = _THINK_BLOCK.sub("", text).strip()
    thinking = "\n".join(part for part in [completion.reasoning.strip(), *blocks] if part)
    return thinking, visible


class _Answers:
    """The verdicts found so far for one question; a re-ask asks only for the pending criteria."""

    def __init__(self, profile: JudgeProfile, mode: Mode, ids: list[str], soft: bool, forms: Forms | None) -> None:
        self.profile, self.mode, self.soft, self.forms = profile, mode, soft, forms
        self.found: dict[str, WireVerdict] = {}
        self.dists: dict[str, dict[str, float]] = {}
        self.thinking = ""
        self.pending = list(ids)

    def take(self, completion: Completion) -> list[str]:
        """Keep the verdicts of one reply; the problems of the rest."""
        payload: str | dict[str, Any] = completion.payload if completion.payload is not None else completion.text
        try:
            got, problems = self.profile.parse(payload, self.mode, self.pending, self.forms)
        except ParseProblem as exc:
            got, problems = {}, [str(exc)]
        if got and not self.thinking:  # a reasoning model's thinking, kept even in one-phase mode
            self.thinking = split_thinking(completion)[0]
        for cid in got:
            if self.soft and (d := self.profile.distribution(completion, self.mode, cid)) is not None:
                self.dists[cid] = d
        self.found.update(got)
        self.pending = [cid for cid in self.pending if cid not in self.found]
        return problems

    def parse(self, completion: Completion) -> _Answers | Unusable:
        problems = self.take(completion)
        if not self.pending:
            return self
        return Unusable("; ".join(problems[:3]) or "no verdict for " + ", ".join(self.pending))

    def verdicts(self) -> dict[str, CriterionVerdict]:
        """The verdicts found, their free text redacted (the reply itself was parsed as sent)."""
        thinking = redact(self.thinking)
        return {cid: CriterionVerdict(v.value, redact(v.reasoning), dist=self.dists.get(cid), thinking=thinking)
                for cid, v in self.found.items()}

    def settle(self, ids: list[str], failure: str | None) -> dict[str, CriterionVerdict]:
        """Every asked criterion in order: its verdict, or unscored with why."""
        verdicts = self.verdicts()
        for cid in self.pending:
            verdicts[cid] = CriterionVerdict(None, "", redact(failure or "no verdict"), thinking=redact(self.thinking))
        return {cid: verdicts[cid] for cid in ids}


def _encode(answers: _Answers) -> dict[str, Any]:
    return {cid: {"value": v.value, "reasoning": v.reasoning, "dist": v.dist, "thinking": v.thinking}
            for cid, v in answers.verdicts().items()}


def _decode(entry: dict[str, Any]) -> dict[str, CriterionVerdict]:
    return {cid: CriterionVerdict(v["value"], v.get("reasoning", ""), dist=v.get("dist"), thinking=v.get("thinking", ""))
            for cid, v in entry.items()}


class VerdictCollector:
    def __init__(
        self, runner: CallRunner, cache: VerdictCache | None, *, max_reasks: int, sampling: SamplingSettings,
        mask_names: bool = False, profile: JudgeProfile | str | None = None,
        thinking: ThinkingSettings = ThinkingSettings(), samples: int = 1, agreement: AgreementLog | None = None,
        view: View | None = None,
    ) -> None:
        self.view = view  # the transcript view that overrides the rubric's (--view), applied where prompts are built
        self.samples = samples  # answers per question; the verdict is their majority
        self.agreement = agreement
        self.mask_names = mask_names  # applied where prompts are built (pointwise and pairwise)
        self.runner = runner
        self.cache = cache
        self.max_reasks = max_reasks
        self.sampling = sampling
        self.profile = load_profile(profile)
        self.thinking = thinking

    def with_runner(self, runner: CallRunner) -> VerdictCollector:
        """The same collector (profile, cache, settings) sending its calls through another runner."""
        return VerdictCollector(runner, self.cache, max_reasks=self.max_reasks, sampling=self.sampling,
                                mask_names=self.mask_names, profile=self.profile, thinking=self.thinking,
                                samples=self.samples, agreement=self.agreement, view=self.view)

    def counting_into(self, scope: ScopeUsage) -> VerdictCollector:
        """The same collector with its calls also counted into `scope`."""
        return self.with_runner(self.runner.counting_into(scope))

    def per_call(self, mode: Mode, requested: str | int) -> str | int:
        """Criteria per call: as configured for judgekit's schema; one for native formats."""
        return "one" if self.profile.one_per_call(mode) else requested

    def _request(self, messages: Sequence[dict[str, str]], mode: Mode, ids: list[str], *, logprobs: bool = False,
                 sample: int | None = None, forms: Forms | None = None) -> JudgeRequest:
        seed = self.sampling.seed
        return JudgeRequest(
            messages=tuple(messages),
            schema=self.profile.answer_schema(mode, ids, forms),
            mode=mode,
            ids=tuple(ids),
            temperature=self.sampling.temperature,
            max_tokens=self.sampling.max_tokens,
            seed=seed + sample if seed is not None and sample else seed,  # each sample its own draw
            logprobs=logprobs,
        )

    async def collect(self, question: Render, mode: Mode, ids: list[str], *, soft: bool = False,
                      forms: Forms | None = None) -> dict[str, CriterionVerdict]:
        """The verdicts of `ids` for the question `question` writes; with samples > 1, each the
        majority of that many answers (the share of each verdict as its distribution). `forms`:
        the criteria rated on a scale or allowing not_applicable (judgekit.protocol.wire)."""
        if (why := self.profile.cannot_answer(mode, ids, forms)) is not None:
            return {cid: CriterionVerdict(None, reason=why) for cid in ids}
        async with self.runner.admission:  # before the prompt is rendered (CallRunner.admission)
            messages = question(self)
            if self.samples == 1:
                return await self._collect_one(messages, mode, ids, soft=soft, sample=None, forms=forms)
            answers = await gather_all(*(self._collect_one(messages, mode, ids, soft=False, sample=i, forms=forms)
                                         for i in range(self.samples)))
        return {cid: self._majority(cid, [a[cid] for a in answers], mode) for cid in ids}

    def _majority(self, cid: str, verdicts: list[CriterionVerdict], mode: Mode) -> CriterionVerdict:
        votes = [Vote(v.value) for v in verdicts if v.value is not None]
        if self.agreement is not None:
            self.agreement.add_samples(cid, [v.value for v in votes])
        value, why = decide(votes, "majority", pairwise=mode == "pairwise")
        if not votes:
            why = f"none of {len(verdicts)} samples gave a verdict: {verdicts[0].reason}"
        elif value is None:
            why = f"{why} over {len(votes)} of {len(verdicts)} samples"
        chosen = next((v for v in verdicts if v.value == value), verdicts[0])
        return CriterionVerdict(value, chosen.reasoning if value is not None else "", why,
                                dist=shares(votes) or None, thinking=chosen.thinking)

    async def _collect_one(
        self, messages: Messages, mode: Mode, ids: list[str], *, soft: bool, sample: int | None, forms: Forms | None,
    ) -> dict[str, CriterionVerdict]:
        first = self._request(messages, mode, ids, logprobs=soft, sample=sample, forms=forms)
        slot = CacheSlot.of(self.cache, self.runner, {
            **first.cache_fields(), "profile": self.profile.fingerprint(),
            "two_phase": self.thinking.max_tokens if self.thinking.two_phase else None,
            **({"sample": sample} if sample is not None else {})}) if self.cache is not None else NO_CACHE
        if (hit := slot.get(self.runner, _decode)) is not None:
            return hit
        answers = _Answers(self.profile, mode, ids, soft, forms)
        failure: str | None = None
        try:
            request = await self._think(first, answers) if self.thinking.two_phase else first
            if answers.pending:
                asked = await ask_until_valid(self.runner, request, parse=answers.parse, reask=partial(self._reask, answers),
                                              max_reasks=self.max_reasks, slot=slot, encode=_encode)
                if asked.value is None:
                    failure = f"no valid verdict after {asked.asks} ask(s): {asked.problem}"
            else:
                slot.put(_encode(answers))
        except JudgeError as exc:
            failure = f"judge call failed: {exc}"
        return answers.settle(ids, failure)

    def _reask(self, answers: _Answers, request: JudgeRequest, completion: Completion, problem: str) -> JudgeRequest:
        """The request after an unusable answer: its answer shown back, the pending criteria asked again."""
        profile, mode = self.profile, answers.mode
        answer_format = None if profile.structured(mode) else profile.mode(mode).answer_format
        message = reask_message(problem, answers.pending, answer_format)
        return replace(self._request([*request.messages, echoed(completion), message], mode, answers.pending,
                                     logprobs=answers.soft, forms=answers.forms), seed=request.seed)

    async def _think(self, first: JudgeRequest, answers: _Answers) -> JudgeRequest:
        """Two-phase mode: a free thinking call first; the request for the final answer of what it
        left pending (that second phase is counted as a re-ask of the same question)."""
        think_request = replace(first, schema=None, max_tokens=self.thinking.max_tokens, logprobs=False)
        completion = await self.runner.call(think_request)
        thinking, visible = split_thinking(completion)
        answers.thinking = thinking
        if not answers.soft:  # with soft verdicts, the final answer is asked for with log-probabilities
            answers.take(replace(completion, text=visible, payload=None))
        if not answers.pending:
            return first
        self.runner.count_reask()
        shown = "\n\n".join(part for part in (thinking, visible) if part)[-4 * self.thinking.max_tokens:]
        answers.thinking = shown  # a model without <think> or a reasoning field thinks in plain text
        mode = answers.mode
        final = render("final_answer.j2", structured=self.profile.structured(mode), ids=answers.pending,
                       answer_format=self.profile.mode(mode).answer_format)
        # The thinking goes back as plain text, not inside <think>: chat templates of
        # reasoning models drop earlier turns' <think> blocks, which would lose it.
        messages = [*first.messages, {"role": "assistant", "content": shown}, {"role": "user", "content": final}]
        return replace(self._request(messages, mode, answers.pending, logprobs=answers.soft, forms=answers.forms),
                       seed=first.seed)


def chunk_ids(ids: list[str], per_call: str | int) -> list[list[str]]:
    """Split criterion ids into calls: 'one' per call, 'all' in one call, or N per call."""
    if not ids:
        return []
    size = 1 if per_call == "one" else len(ids) if per_call == "all" else int(per_call)
    size = max(1, size)
    return [ids[i : i + size] for i in range(0, len(ids), size)]
