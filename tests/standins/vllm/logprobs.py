"""Stand-in for vllm.logprobs (0.33.0)."""

from dataclasses import dataclass


@dataclass
class Logprob:
    """The logprob of a token, its vocabulary rank (>= 1) and its decoded text."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


LogprobsOnePosition = dict[int, Logprob]
SampleLogprobs = list[LogprobsOnePosition]
