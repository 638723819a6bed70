"""Stand-in for vllm.sampling_params (0.33.0): the fields judgekit may set, with vLLM's defaults;
any other keyword is refused, as vLLM's msgspec struct refuses it."""

from dataclasses import dataclass, field
from enum import Enum

from vllm.exceptions import VLLMValidationError


@dataclass
class StructuredOutputsParams:
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None

    def __post_init__(self) -> None:
        count = sum(v is not None for v in (self.json, self.regex, self.choice, self.grammar, self.json_object, self.structural_tag))
        if count != 1:
            raise VLLMValidationError(f"You must use exactly one kind of structured outputs constraint, got {count}")


class RequestOutputKind(Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass(kw_only=True)
class SamplingParams:
    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    max_tokens: int | None = 16
    min_tokens: int = 0
    logprobs: int | None = None
    detokenize: bool = True
    skip_special_tokens: bool = True
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE
    structured_outputs: StructuredOutputsParams | None = None
    logit_bias: dict[int, float] | None = None
    extra_args: dict | None = field(default=None)
    thinking_token_budget: int | None = None
