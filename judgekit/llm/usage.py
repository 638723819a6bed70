"""Counters: for a whole run (RunStats) and for one scope of it, e.g. a GRPO group or an eval subset (ScopeUsage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

FIRST_REASONS = 3  # distinct reasons for failed calls a run keeps (RunStats.failure_reasons)


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
    # The first FIRST_REASONS distinct reasons calls failed for, each with how many calls failed so.
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """The counters."""
        counters = asdict(self)
        del counters["failure_reasons"]
        return counters

    def note_failure(self, reason: str) -> None:
        """A call failed for good for `reason` (redacted already)."""
        self.failed_calls += 1
        if reason in self.failure_reasons or len(self.failure_reasons) < FIRST_REASONS:
            self.failure_reasons[reason] = self.failure_reasons.get(reason, 0) + 1


@dataclass
class ScopeUsage:
    """What one scope cost. Filled by a call runner made for the scope (CallRunner.counting_into)."""

    calls: int = 0  # judge requests (re-asks included; HTTP retries and cache hits not)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
