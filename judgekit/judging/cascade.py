"""A confidence cascade: each question goes to the first judge; the criteria it is unsure of go on.

`CascadeCollector` is a VerdictCollector to everything above it (pointwise, pairwise, ranking,
rubric authoring), as a panel's is. Each question is asked of the first level's judge; a verdict
whose confidence is below the threshold, or that the judge failed to give, is asked of the next
level, and so on; the last level's verdict stands, whatever its confidence (failed there too: the
criterion is unscored, each level's reason kept). Each verdict records the judge that decided it.

Confidence of a verdict: the probability of the verdict given, from the judge's token
log-probabilities (MET/UNMET: P(MET) or P(UNMET); pairwise: the preference's), or with repeated
samples the share of the samples that gave it. A level before the last is asked with
log-probabilities unless it takes samples. A verdict with neither (a server that sends no
log-probabilities) is not trusted: it goes on to the next level and is counted as `unmeasured`.

A question holds one or more criteria (`--criteria-per-call`); when any of them goes on, the next
judge is asked the same question (so the prompt, the schema and its cache entry are those of that
judge asked alone) and only the escalated criteria take its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from judgekit.judging.verdicts import CriterionVerdict, Render, VerdictCollector
from judgekit.llm.pricing import Pricing
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.soft import label_of
from judgekit.protocol.wire import Forms, Mode


@dataclass
class LevelCount:
    """What one level of a cascade did: verdicts it decided, passed on (unsure, unmeasured, failed),
    and its calls and tokens (filled by its runner)."""

    judge: str
    pricing: Pricing
    decided: int = 0
    unsure: int = 0  # a confidence below the threshold
    unmeasured: int = 0  # no confidence to read (no log-probabilities, one sample)
    failed: int = 0
    usage: ScopeUsage = field(default_factory=ScopeUsage)

    def as_dict(self, total: int) -> dict[str, object]:
        prices = self.pricing.prices
        cost = None if prices is None else float(prices.cost(self.usage.prompt_tokens, self.usage.completion_tokens))
        return {"judge": self.judge, "decided": self.decided, "share": round(self.decided / total, 4) if total else None,
                "escalated": self.unsure + self.unmeasured + self.failed, "unmeasured": self.unmeasured, "failed": self.failed,
                "calls": self.usage.calls, "cost_usd": cost}


@dataclass
class CascadeLog:
    """Per level, what a run's cascade did; read once at the end for the summary and the reports."""

    threshold: float
    levels: list[LevelCount]

    def as_dict(self) -> dict[str, object]:
        decided = sum(level.decided for level in self.levels)
        return {"threshold": self.threshold, "levels": [level.as_dict(decided) for level in self.levels]}


@dataclass(frozen=True)
class Level:
    collector: VerdictCollector
    count: LevelCount

    @property
    def name(self) -> str:
        return self.count.judge


def confidence(verdict: CriterionVerdict) -> float | None:
    """The probability of the verdict given (log-probabilities, or the share of samples); None: unknown."""
    if verdict.value is None or not verdict.dist:
        return None
    return verdict.dist.get(label_of(verdict.value) if isinstance(verdict.value, bool) else str(verdict.value))


class CascadeCollector(VerdictCollector):
    def __init__(self, levels: list[Level], threshold: float) -> None:
        lead = levels[0].collector
        super().__init__(lead.runner, lead.cache, max_reasks=lead.max_reasks, sampling=lead.sampling,
                         mask_names=lead.mask_names, profile=lead.profile, thinking=lead.thinking,
                         samples=lead.samples, agreement=lead.agreement, view=lead.view)
        self.levels, self.threshold = levels, threshold

    def per_call(self, mode: Mode, requested: str | int) -> str | int:
        """One criterion per call when any judge's profile needs it (its native format)."""
        answers = {level.collector.per_call(mode, requested) for level in self.levels}
        return "one" if "one" in answers else requested

    def counting_into(self, scope: ScopeUsage) -> CascadeCollector:
        return CascadeCollector([Level(level.collector.counting_into(scope), level.count) for level in self.levels], self.threshold)

    async def collect(self, question: Render, mode: Mode, ids: list[str], *, soft: bool = False,
                      forms: Forms | None = None) -> dict[str, CriterionVerdict]:
        decided: dict[str, CriterionVerdict] = {}
        passed: dict[str, list[str]] = {cid: [] for cid in ids}  # why each earlier level did not decide
        pending = list(ids)
        for depth, level in enumerate(self.levels):
            last = depth == len(self.levels) - 1
            measure = not last and level.collector.samples == 1  # log-probabilities, unless samples measure it
            answers = await level.collector.collect(question, mode, ids, soft=soft or measure, forms=forms)
            still: list[str] = []
            for cid in pending:
                verdict = answers[cid]
                why = self._passes_on(verdict, level, last)
                if why is None:
                    level.count.decided += 1
                    decided[cid] = replace(verdict, decided_by=level.name)
                elif last:
                    reasons = "; ".join([*passed[cid], f"{level.name}: {why}"])
                    decided[cid] = replace(verdict, reason=f"no judge of the cascade decided: {reasons}")
                else:
                    passed[cid].append(f"{level.name}: {why}")
                    still.append(cid)
            if not still:
                break
            pending = still
        return {cid: decided[cid] for cid in ids}

    def _passes_on(self, verdict: CriterionVerdict, level: Level, last: bool) -> str | None:
        """Why this level's verdict does not stand (counted), or None when it decides."""
        if verdict.value is None:
            level.count.failed += not last
            return verdict.reason or "no verdict"
        if last:
            return None
        sure = confidence(verdict)
        if sure is None:
            level.count.unmeasured += 1
            return "no confidence (no log-probabilities)"
        if sure < self.threshold:
            level.count.unsure += 1
            return f"confidence {sure:.2f} below {self.threshold:g}"
        return None
