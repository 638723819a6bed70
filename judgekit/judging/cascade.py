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

Agreement with asking the last judge for everything, measured on a sample (`check_rate`): a seeded
share of the questions decided before the last level is also asked of the last judge (its calls
counted apart), and the share of those verdicts it agrees with is reported.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import TypedDict

from judgekit.judging.verdicts import CriterionVerdict, Render, VerdictCollector
from judgekit.llm.pricing import Pricing
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.soft import label_of
from judgekit.protocol.wire import Forms, Mode


class LevelReport(TypedDict):
    """One level of a cascade in the summary and the reports."""

    judge: str
    decided: int
    share: float | None  # of the verdicts decided at any level
    escalated: int  # passed on: unsure, unmeasured or failed
    unmeasured: int
    failed: int
    calls: int
    cost_usd: float | None


class CheckReport(TypedDict):
    """The check of verdicts decided early against the last judge, in the summary and the reports."""

    rate: float
    checked: int
    agreed: int
    agreement: float | None
    calls: int
    cost_usd: float | None


class _CascadeLevels(TypedDict):
    threshold: float
    levels: list[LevelReport]


class CascadeReport(_CascadeLevels, total=False):
    """A cascade's run in the summary and the reports: its levels, and its check when it has one."""

    check: CheckReport


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

    def as_dict(self, total: int) -> LevelReport:
        prices = self.pricing.prices
        cost = None if prices is None else float(prices.cost(self.usage.prompt_tokens, self.usage.completion_tokens))
        return {"judge": self.judge, "decided": self.decided, "share": round(self.decided / total, 4) if total else None,
                "escalated": self.unsure + self.unmeasured + self.failed, "unmeasured": self.unmeasured, "failed": self.failed,
                "calls": self.usage.calls, "cost_usd": cost}


@dataclass
class CheckCount:
    """The sample of verdicts decided early that the last judge was also asked about."""

    rate: float
    pricing: Pricing
    checked: int = 0
    agreed: int = 0
    usage: ScopeUsage = field(default_factory=ScopeUsage)

    def as_dict(self) -> CheckReport:
        prices = self.pricing.prices
        cost = None if prices is None else float(prices.cost(self.usage.prompt_tokens, self.usage.completion_tokens))
        return {"rate": self.rate, "checked": self.checked, "agreed": self.agreed,
                "agreement": round(self.agreed / self.checked, 4) if self.checked else None, "calls": self.usage.calls, "cost_usd": cost}


@dataclass
class CascadeLog:
    """Per level, what a run's cascade did; read once at the end for the summary and the reports."""

    threshold: float
    levels: list[LevelCount]
    check: CheckCount | None = None

    def since(self, before: CascadeLog) -> CascadeLog:
        """The counts added after `before` (a copy taken earlier), e.g. one shard's of a Ray actor's judge."""
        return _combined(self, before, -1)

    def merge(self, other: CascadeLog) -> CascadeLog:
        """This log's counts and `other`'s (the shards of one run)."""
        return _combined(self, other, 1)

    def as_dict(self) -> CascadeReport:
        decided = sum(level.decided for level in self.levels)
        out: CascadeReport = {"threshold": self.threshold, "levels": [level.as_dict(decided) for level in self.levels]}
        if self.check is not None:
            out["check"] = self.check.as_dict()
        return out


_USAGE = ("calls", "cache_hits", "prompt_tokens", "completion_tokens")


def _combined(log: CascadeLog, other: CascadeLog, sign: int) -> CascadeLog:
    """`log`'s counts plus (sign 1) or minus (sign -1) `other`'s, in a new log."""
    out = copy.deepcopy(log)

    def add(mine: object, theirs: object, names: tuple[str, ...]) -> None:
        for name in names:
            setattr(mine, name, getattr(mine, name) + sign * getattr(theirs, name))

    for level, more in zip(out.levels, other.levels):
        add(level, more, ("decided", "unsure", "unmeasured", "failed"))
        add(level.usage, more.usage, _USAGE)
    if out.check is not None and other.check is not None:
        add(out.check, other.check, ("checked", "agreed"))
        add(out.check.usage, other.check.usage, _USAGE)
    return out


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


def sampled(messages: list[dict[str, str]], ids: list[str], rate: float, seed: int | None) -> bool:
    """Whether a question is in the checked sample: a hash of its text, so the same questions are
    checked whatever order the rows finish in."""
    text = json.dumps([messages, ids, seed], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64 < rate


@dataclass(frozen=True)
class Check:
    collector: VerdictCollector  # the last judge, its calls counted apart
    count: CheckCount


class CascadeCollector(VerdictCollector):
    def __init__(self, levels: list[Level], threshold: float, check: Check | None = None) -> None:
        lead = levels[0].collector
        super().__init__(lead.runner, lead.cache, max_reasks=lead.max_reasks, sampling=lead.sampling,
                         mask_names=lead.mask_names, profile=lead.profile, thinking=lead.thinking,
                         samples=lead.samples, agreement=lead.agreement, view=lead.view)
        self.levels, self.threshold, self.check = levels, threshold, check

    def per_call(self, mode: Mode, requested: str | int) -> str | int:
        """One criterion per call when any judge's profile needs it (its native format)."""
        answers = {level.collector.per_call(mode, requested) for level in self.levels}
        return "one" if "one" in answers else requested

    def counting_into(self, scope: ScopeUsage) -> CascadeCollector:
        check = Check(self.check.collector.counting_into(scope), self.check.count) if self.check is not None else None
        return CascadeCollector([Level(level.collector.counting_into(scope), level.count) for level in self.levels], self.threshold,
                                check)

    async def collect(self, question: Render, mode: Mode, ids: list[str], *, soft: bool = False,
                      forms: Forms | None = None) -> dict[str, CriterionVerdict]:
        decided: dict[str, CriterionVerdict] = {}
        early: list[str] = []  # decided before the last level
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
                    early += [cid] if not last else []
                elif last:
                    reasons = "; ".join([*passed[cid], f"{level.name}: {why}"])
                    decided[cid] = replace(verdict, reason=f"no judge of the cascade decided: {reasons}")
                else:
                    passed[cid].append(f"{level.name}: {why}")
                    still.append(cid)
            if not still:
                break
            pending = still
        if early and self.check is not None:
            await self._check(question, mode, ids, early, decided, soft, forms)
        return {cid: decided[cid] for cid in ids}

    async def _check(self, question: Render, mode: Mode, ids: list[str], early: list[str], decided: dict[str, CriterionVerdict],
                     soft: bool, forms: Forms | None) -> None:
        """A sampled question decided early also asked of the last judge: does it give the same verdicts?"""
        check = self.check
        assert check is not None
        if not sampled(question(self.levels[0].collector), ids, check.count.rate, self.sampling.seed):
            return
        answers = await check.collector.collect(question, mode, ids, soft=soft, forms=forms)
        for cid in early:
            if answers[cid].value is not None:
                check.count.checked += 1
                check.count.agreed += answers[cid].value == decided[cid].value

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
