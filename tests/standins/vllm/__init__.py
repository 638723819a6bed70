"""Stand-in for vLLM 0.33.0 (see tests/standins/README.md). Like vLLM's own package, importing it
imports none of its submodules: `vllm.sampling_params` exists only once something imports it."""

import typing

__version__ = "0.33.0"
__version_tuple__ = (0, 33, 0)

MODULE_ATTRS = {
    "AsyncEngineArgs": ".engine.arg_utils:AsyncEngineArgs",
    "AsyncLLMEngine": ".v1.engine.async_llm:AsyncLLM",
    "SamplingParams": ".sampling_params:SamplingParams",
    "CompletionOutput": ".outputs:CompletionOutput",
    "RequestOutput": ".outputs:RequestOutput",
}


def __getattr__(name: str) -> typing.Any:
    from importlib import import_module

    if name in MODULE_ATTRS:
        module_name, attr_name = MODULE_ATTRS[name].split(":")
        return getattr(import_module(module_name, __package__), attr_name)
    raise AttributeError(f"module {__package__} has no attribute {name}")
