"""What judging and criteria writing need of a Judge, and nothing else.

A `judgekit.Judge` builds one JudgeContext on its event loop and hands it down, so the layers
below the facade never see the Judge (its loop, its backends' lifetime, its public methods).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from judgekit.config import JudgeConfig
from judgekit.judging.verdicts import SamplingSettings, VerdictCollector
from judgekit.llm.cache import VerdictCache
from judgekit.llm.runner import CallRunner
from judgekit.llm.usage import ScopeUsage
from judgekit.protocol.profiles import JudgeProfile

GeneratedItems = list[tuple[str, str]]  # rubric-rm: (text, kind) of each written criterion


@dataclass(frozen=True)
class JudgeContext:
    collector: VerdictCollector  # the judge's verdicts: its runner, cache, profile, sampling
    generator: CallRunner  # the model that writes criteria (rubric-rm, adaptive); the judge's own when none is given
    config: JudgeConfig
    # rubric-rm: one generation per prompt in flight, shared by every row that needs it
    generations: dict[str, asyncio.Future[GeneratedItems]]
    spec: str = "?"  # the judge's --judge spec, for provenance

    @property
    def runner(self) -> CallRunner:
        return self.collector.runner

    @property
    def cache(self) -> VerdictCache | None:
        return self.collector.cache

    @property
    def profile(self) -> JudgeProfile:
        return self.collector.profile

    @property
    def sampling(self) -> SamplingSettings:
        return self.collector.sampling

    def soft_default(self, soft: bool | None) -> bool:
        """Soft verdicts: as asked, else as configured, else the profile's default (on with samples)."""
        if soft is not None:
            return soft
        if self.config.soft is not None:
            return self.config.soft
        return self.profile.soft or self.config.samples > 1  # repeated samples: the share of each verdict

    def counting_into(self, scope: ScopeUsage) -> JudgeContext:
        """The same context with the judge's verdict calls also counted into `scope` (a GRPO group,
        an eval subset). Criteria writing is not counted there: a written rubric serves many scopes."""
        return replace(self, collector=self.collector.counting_into(scope))
