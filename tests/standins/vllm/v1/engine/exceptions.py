"""Stand-in for vllm.v1.engine.exceptions (0.33.0)."""

from vllm.exceptions import VLLMServerError


class EngineGenerateError(VLLMServerError):
    """Raised when a AsyncLLM.generate() fails. Recoverable."""


class EngineDeadError(VLLMServerError):
    """Raised when the EngineCore dies. Unrecoverable."""

    def __init__(self, *args: object) -> None:
        super().__init__("EngineCore encountered an issue. See stack trace (above) for the root cause.", *args)
