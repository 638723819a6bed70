"""Counters: for a whole run (RunStats) and for one scope of it, e.g. a GRPO group or an eval subset (ScopeUsage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class RunStats:
    calls: int = 0  # requests sent to the backend (retries and re-asks included)
    retries: int = 0
    reasks: int = 0
    failed_calls: int = 0  # calls that failed for good, after retries
    succeeded_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class ScopeUsage:
    """What one scope cost. Filled by a call runner made for the scope (CallRunner.counting_into)."""

    calls: int = 0  # judge requests (re-asks included; HTTP retries and cache hits not)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
