"""Stand-in for vllm.engine.arg_utils (0.33.0): a few of the engine's arguments; others are refused."""

from dataclasses import dataclass


@dataclass
class EngineArgs:
    model: str = "Qwen/Qwen3-0.6B"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.92
    seed: int = 0
    enable_log_requests: bool = False
    disable_log_stats: bool = False


@dataclass
class AsyncEngineArgs(EngineArgs):
    pass
