"""From judge requests to verdicts: cache, re-ask on bad answers, unscored with a reason.

One `collect` call asks the judge about a set of criteria (all in one call, or one of many calls
for a row). The judge's profile says how the answer is asked for (judgekit's JSON schema, or the
judge's native format) and how it is read. Verdicts that validate are kept; the ids still missing
are re-asked, a bounded number of times, naming what was wrong; whatever is still missing ends
unscored with the reason.

Two-phase mode (for reasoning judges): the judge first thinks freely (no schema, a capped token
budget); if that reply already holds every verdict, it is used; otherwise the thinking is handed
back and the final answer is asked for, constrained (schema) or in the native format. Structured
output from the first token would otherwise cut a reasoning model's chain of thought short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Sequence

from judgekit.llm.base import Completion, JudgeRequest
from judgekit.llm.cache import VerdictCache, cache_key
from judgekit.llm.runner import CallRunner
from judgekit.errors import JudgeError
from judgekit.protocol.profiles import JudgeProfile, load_profile
from judgekit.protocol.templates import reask_message, render
from judgekit.protocol.wire import Mode, ParseProblem, WireVerdict

_MAX_ECHO = 2000  # how much of a bad answer is shown back to the judge in a re-ask
_THINK_BLOCK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S | re.I)


@dataclass(frozen=True)
class CriterionVerdict:
    value: bool | str | None  # pointwise: met; pairwise: "A" | "B" | "tie"; None: unscored
    reasoning: str = ""
    reason: str | None = None  # why it is unscored
    dist: dict[str, float] | None = None  # P(label) from log-probabilities, when asked and available
    thinking: str = ""  # a reasoning judge's free thinking (two-phase mode, <think>, reasoning fields)

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
    blocks = [m.group(1).strip() for m in _THINK_BLOCK.finditer(text)]
    if "</think>" in text.lower() and not blocks:  # the opening tag was in the chat template
        head, _, text = text.rpartition("</think>")
        blocks = [head.strip()]
    visible = _THINK_BLOCK.sub("", text).strip()
    thinking = "\n".join(part for part in [completion.reasoning.strip(), *blocks] if part)
    return thinking, visible


class VerdictCollector:
    def __init__(
        self, runner: CallRunner, cache: VerdictCache | None, *, max_reasks: int, sampling: SamplingSettings,
        mask_names: bool = False, profile: JudgeProfile | str | None = None,
        thinking: ThinkingSettings = ThinkingSettings(),
    ) -> None:
        self.mask_names = mask_names  # applied where prompts are built (pointwise and pairwise)
        self.runner = runner
        self.cache = cache
        self.max_reasks = max_reasks
        self.sampling = sampling
        self.profile = load_profile(profile)
        self.thinking = thinking

    def with_runner(self, runner: Any) -> "VerdictCollector":
        """The same collector (profile, cache, settings) sending its calls through another runner."""
        return VerdictCollector(runner, self.cache, max_reasks=self.max_reasks, sampling=self.sampling,
                                mask_names=self.mask_names, profile=self.profile, thinking=self.thinking)

    def per_call(self, mode: Mode, requested: str | int) -> str | int:
        """Criteria per call: as configured for judgekit's schema; one for native formats."""
        return "one" if self.profile.one_per_call(mode) else requested

    def _request(self, messages: Sequence[dict[str, str]], mode: Mode, ids: list[str], *, logprobs: bool = False) -> JudgeRequest:
        return JudgeRequest(
            messages=tuple(messages),
            schema=self.profile.schema(mode, ids),
            mode=mode,
            ids=tuple(ids),
            temperature=self.sampling.temperature,
            max_tokens=self.sampling.max_tokens,
            seed=self.sampling.seed,
            logprobs=logprobs,
        )

    def _parse(self, completion: Completion, mode: Mode, ids: list[str]) -> tuple[dict[str, WireVerdict], list[str]]:
        payload: str | dict[str, Any] = completion.payload if completion.payload is not None else completion.text
        try:
            return self.profile.parse(payload, mode, ids)
        except ParseProblem as exc:
            return {}, [str(exc)]

    async def collect(
        self, messages: list[dict[str, str]], mode: Mode, ids: list[str], *, soft: bool = False
    ) -> dict[str, CriterionVerdict]:
        first = self._request(messages, mode, ids, logprobs=soft)
        key = None
        if self.cache is not None:
            fields = {**first.cache_fields(), "profile": self.profile.fingerprint(),
                      "two_phase": self.thinking.max_tokens if self.thinking.two_phase else None}
            key = cache_key(self.runner.backend.identity(), fields)
            hit = self.cache.get(key)
            if hit is not None:
                self.runner.stats.cache_hits += 1
                return {cid: CriterionVerdict(v["value"], v.get("reasoning", ""), dist=v.get("dist"),
                                              thinking=v.get("thinking", "")) for cid, v in hit.items()}

        found: dict[str, WireVerdict] = {}
        dists: dict[str, dict[str, float]] = {}
        thinking = ""
        pending = list(ids)
        request = first
        failure: str | None = None
        asks = 1 + self.max_reasks

        def take(completion: Completion) -> list[str]:
            nonlocal pending, thinking
            got, problems = self._parse(completion, mode, pending)
            if got and not thinking:  # a reasoning model's thinking, kept even in one-phase mode
                thinking = split_thinking(completion)[0]
            for cid in got:
                if soft and (d := self.profile.distribution(completion, mode, cid)) is not None:
                    dists[cid] = d
            found.update(got)
            pending = [cid for cid in pending if cid not in found]
            return problems

        if self.thinking.two_phase:
            think_request = replace(first, schema=None, max_tokens=self.thinking.max_tokens, logprobs=False)
            try:
                completion = await self.runner.call(think_request)
            except JudgeError as exc:
                pending_reason = f"judge call failed: {exc}"
                return self._settle(found, dists, ids, pending, pending_reason, thinking, key)
            thinking, visible = split_thinking(completion)
            if not soft:  # with soft verdicts, the final answer is asked for with log-probabilities
                take(replace(completion, text=visible, payload=None))
            if pending:
                self.runner.stats.reasks += 1  # the second phase: counted as a re-ask of the same question
                shown = "\n\n".join(part for part in (thinking, visible) if part)[-4 * self.thinking.max_tokens:]
                thinking = shown  # a model without <think> or a reasoning field thinks in plain text
                final = render("final_answer.j2", structured=self.profile.structured(mode), ids=pending,
                               answer_format=self.profile.mode(mode).answer_format)
                # The thinking goes back as plain text, not inside <think>: chat templates of
                # reasoning models drop earlier turns' <think> blocks, which would lose it.
                messages = [*messages, {"role": "assistant", "content": shown}, {"role": "user", "content": final}]
                request = self._request(messages, mode, pending, logprobs=soft)

        for ask in range(asks if pending else 0):
            if ask:
                self.runner.stats.reasks += 1
            try:
                completion = await self.runner.call(request)
            except JudgeError as exc:
                failure = f"judge call failed: {exc}"
                break
            problems = take(completion)
            if not pending:
                break
            problem = "; ".join(problems[:3]) or "no verdict for " + ", ".join(pending)
            failure = f"no valid verdict after {ask + 1} ask(s): {problem}"
            reask = reask_message(problem, pending, None if self.profile.structured(mode) else self.profile.mode(mode).answer_format)
            request = self._request(
                [*request.messages, {"role": "assistant", "content": completion.text[:_MAX_ECHO]}, reask],
                mode, pending, logprobs=soft,
            )
        return self._settle(found, dists, ids, pending, failure, thinking, key)

    def _settle(
        self, found: dict[str, WireVerdict], dists: dict[str, dict[str, float]], ids: list[str], pending: list[str],
        failure: str | None, thinking: str, key: str | None,
    ) -> dict[str, CriterionVerdict]:
        verdicts = {cid: CriterionVerdict(v.value, v.reasoning, dist=dists.get(cid), thinking=thinking)
                    for cid, v in found.items()}
        if not pending and self.cache is not None and key is not None:
            self.cache.put(key, {cid: {"value": v.value, "reasoning": v.reasoning, "dist": v.dist, "thinking": v.thinking}
                                 for cid, v in verdicts.items()})
        for cid in pending:
            verdicts[cid] = CriterionVerdict(None, "", failure or "no verdict", thinking=thinking)
        return {cid: verdicts[cid] for cid in ids}


def chunk_ids(ids: list[str], per_call: str | int) -> list[list[str]]:
    """Split criterion ids into calls: 'one' per call, 'all' in one call, or N per call."""
    if not ids:
        return []
    size = 1 if per_call == "one" else len(ids) if per_call == "all" else int(per_call)
    size = max(1, size)
    return [ids[i : i + size] for i in range(0, len(ids), size)]
