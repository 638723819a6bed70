"""Counters for one run: judge calls, retries, tokens, cache hits."""

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
