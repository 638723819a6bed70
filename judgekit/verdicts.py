"""From judge requests to verdicts: cache, re-ask on bad answers, unscored with a reason.

One `collect` call asks the judge about a set of criteria (all in one call, or one of many calls
for a row). Verdicts that validate are kept; the ids still missing are re-asked, a bounded number
of times, naming what was wrong; whatever is still missing ends unscored with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from judgekit.backends.base import JudgeRequest
from judgekit.cache import VerdictCache, cache_key
from judgekit.calls import CallRunner
from judgekit.errors import JudgeError
from judgekit.prompting import reask_message
from judgekit.wire import Mode, ParseProblem, WireVerdict, parse_verdicts, verdict_schema

_MAX_ECHO = 2000  # how much of a bad answer is shown back to the judge in a re-ask


@dataclass(frozen=True)
class CriterionVerdict:
    value: bool | str | None  # pointwise: met; pairwise: "A" | "B" | "tie"; None: unscored
    reasoning: str = ""
    reason: str | None = None  # why it is unscored

    @property
    def scored(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = 0


class VerdictCollector:
    def __init__(
        self, runner: CallRunner, cache: VerdictCache | None, *, max_reasks: int, sampling: SamplingSettings,
        mask_names: bool = False,
    ) -> None:
        self.mask_names = mask_names  # applied where prompts are built (pointwise and pairwise)
        self.runner = runner
        self.cache = cache
        self.max_reasks = max_reasks
        self.sampling = sampling

    def _request(self, messages: Sequence[dict[str, str]], mode: Mode, ids: list[str]) -> JudgeRequest:
        return JudgeRequest(
            messages=tuple(messages),
            schema=verdict_schema(mode, ids),
            mode=mode,
            ids=tuple(ids),
            temperature=self.sampling.temperature,
            max_tokens=self.sampling.max_tokens,
            seed=self.sampling.seed,
        )

    async def collect(
        self, messages: list[dict[str, str]], mode: Mode, ids: list[str]
    ) -> dict[str, CriterionVerdict]:
        first = self._request(messages, mode, ids)
        key = cache_key(self.runner.backend.identity(), first.cache_fields()) if self.cache else None
        if self.cache is not None and key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.runner.stats.cache_hits += 1
                return {cid: CriterionVerdict(v["value"], v.get("reasoning", "")) for cid, v in hit.items()}

        found: dict[str, WireVerdict] = {}
        pending = list(ids)
        request = first
        failure: str | None = None
        for ask in range(1 + self.max_reasks):
            if ask:
                self.runner.stats.reasks += 1
            try:
                completion = await self.runner.call(request)
            except JudgeError as exc:
                failure = f"judge call failed: {exc}"
                break
            try:
                got, problems = parse_verdicts(
                    completion.payload if completion.payload is not None else completion.text, mode, pending
                )
            except ParseProblem as exc:
                got, problems = {}, [str(exc)]
            found.update(got)
            pending = [cid for cid in pending if cid not in found]
            if not pending:
                break
            problem = "; ".join(problems[:3]) or "no verdict for " + ", ".join(pending)
            failure = f"no valid verdict after {ask + 1} ask(s): {problem}"
            request = self._request(
                [*messages, {"role": "assistant", "content": completion.text[:_MAX_ECHO]}, reask_message(problem, pending)],
                mode,
                pending,
            )

        if not pending and self.cache is not None and key is not None:
            self.cache.put(key, {cid: {"value": v.value, "reasoning": v.reasoning} for cid, v in found.items()})
        verdicts = {cid: CriterionVerdict(v.value, v.reasoning) for cid, v in found.items()}
        for cid in pending:
            verdicts[cid] = CriterionVerdict(None, "", failure or "no verdict")
        return verdicts


def chunk_ids(ids: list[str], per_call: str | int) -> list[list[str]]:
    """Split criterion ids into calls: 'one' per call, 'all' in one call, or N per call."""
    if not ids:
        return []
    size = 1 if per_call == "one" else len(ids) if per_call == "all" else int(per_call)
    size = max(1, size)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


