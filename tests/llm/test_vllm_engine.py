"""The in-process vLLM backend (`vllm:MODEL`) against a stand-in for vLLM 0.33.0.

vLLM needs a GPU and is not installed here: tests/standins/vllm mirrors the 0.33.0 names, module
paths and types the backend uses (see tests/standins/README.md). The "model" below answers like the
scripted judge server, with vLLM-shaped log-probabilities: per position a dict keyed by token id of
`Logprob(logprob, rank, decoded_token)`.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import judgekit
from judgekit.rubric.models import rubric_from_data
from judgekit.testing import ServerState
from judgekit.testing.server import Script, token_logprobs, verdict_object

STANDINS = Path(__file__).resolve().parent.parent / "standins"
RUBRIC = rubric_from_data({"name": "t", "criteria": [
    {"id": "mentions_canberra", "text": "Mentions Canberra.", "weight": 3},
    {"id": "polite", "text": "Is polite.", "weight": 1},
]})
ROWS = [{"prompt": "Capital of Australia?", "response": r} for r in ("Canberra, please.", "Sydney.", "Canberra.")]


def _met(cid: str, response: str) -> bool:
    return ("Canberra" in response) if cid == "mentions_canberra" else ("please" in response)


class Model:
    """The stand-in engine's model: the scripted judge's answer, its tokens and their logprobs."""

    def __init__(self, probability: float = 0.8, latency: float = 0.02) -> None:
        self.state = ServerState(script=Script(met=_met), verdict_probability=lambda cid, verdict: probability)
        self.latency = latency
        self.hang_first = 0  # how many requests never answer (until cancelled)
        self.params: list[Any] = []
        self.vocab: dict[str, int] = {}

    async def __call__(self, prompt: str, params: Any) -> tuple[str, list[int], list[dict[int, Any]] | None]:
        from vllm.logprobs import Logprob

        self.params.append(params)
        if self.hang_first > 0:
            self.hang_first -= 1
            await asyncio.sleep(3600)
        await asyncio.sleep(self.latency)
        schema = params.structured_outputs.json
        body = {"messages": [{"role": "user", "content": prompt}],
                "response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
        text = json.dumps(verdict_object(self.state, body))
        entries = token_logprobs(text, self.state.verdict_probability)  # type: ignore[arg-type]
        ids = [self._id(e["token"]) for e in entries]
        positions = []
        for entry in entries:
            alternatives = entry["top_logprobs"] or [{"token": entry["token"], "logprob": entry["logprob"]}]
            ranked = sorted(alternatives, key=lambda a: -a["logprob"])
            positions.append({self._id(a["token"]): Logprob(a["logprob"], rank + 1, a["token"]) for rank, a in enumerate(ranked)})
        return text, ids, positions

    def _id(self, piece: str) -> int:
        return self.vocab.setdefault(piece, 1000 + len(self.vocab))


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Model]:
    """The stand-in vLLM on sys.path (its modules unloaded afterwards), answering with a fresh Model."""
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(STANDINS))
    from vllm.v1.engine.async_llm import AsyncLLM

    answer = Model()
    AsyncLLM.model = answer  # a fresh module: unloaded again below
    yield answer
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        del sys.modules[name]


def _engine() -> Any:
    from vllm.v1.engine.async_llm import AsyncLLM

    [engine] = AsyncLLM.instances
    return engine


def test_verdicts_through_async_llm_with_structured_outputs(model: Model) -> None:
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    with judgekit.Judge("vllm:Qwen/Qwen3-8B", cache=False, concurrency=8) as judge:
        results = judge.score(ROWS, RUBRIC)
    assert [r.scores for r in results] == [{"mentions_canberra": 1, "polite": 1}, {"mentions_canberra": 0, "polite": 0},
                                           {"mentions_canberra": 1, "polite": 0}]
    assert [r.reward for r in results] == [1.0, 0.0, 0.75]
    engine = _engine()
    assert engine.engine_args.model == "Qwen/Qwen3-8B"
    assert engine.max_running > 1  # the calls were in the engine together: vLLM batches them
    assert len(model.params) == 6 and all(isinstance(p.structured_outputs, StructuredOutputsParams) for p in model.params)
    assert all(p.output_kind is RequestOutputKind.FINAL_ONLY and p.temperature == 0.0 and p.logprobs is None for p in model.params)
    assert judge.stats.prompt_tokens > 0 and judge.stats.completion_tokens > 0
    assert engine.shut_down  # closing the Judge shuts the engine down


def test_soft_verdicts_from_vllm_logprobs(model: Model) -> None:
    with judgekit.Judge("vllm:Qwen/Qwen3-8B", cache=False) as judge:
        [res] = judge.compare([{"prompt": "q", "response_a": "Canberra, please.", "response_b": "Sydney."}], RUBRIC, soft=True)
        [first] = judge.score(ROWS[:1], RUBRIC, soft=True)
    assert all(p.logprobs == 5 for p in model.params)
    # pairwise: the script says tie (no `prefer`) with p = 0.8 in both orders -> P(A better) = 0.1
    assert res.soft == pytest.approx({"mentions_canberra": 0.1, "polite": 0.1})
    # pointwise: MET with p = 0.8 -> P(MET) = 0.8
    assert first.soft == pytest.approx({"mentions_canberra": 0.8, "polite": 0.8})


def test_a_request_past_its_timeout_is_aborted_before_its_retry(model: Model) -> None:
    model.hang_first = 1
    with judgekit.Judge("vllm:Qwen/Qwen3-8B", cache=False, timeout=0.5, max_attempts=2, criteria_per_call="all") as judge:
        [res] = judge.score(ROWS[:1], RUBRIC)
    assert res.scores == {"mentions_canberra": 1, "polite": 1}
    events = _engine().events
    (_, first), (_, aborted), (_, second) = events[:3]
    assert [kind for kind, _ in events] == ["start", "abort", "start"] and aborted == first != second
    assert judge.stats.retries == 1


def test_a_dead_engine_leaves_the_criteria_unscored_with_the_reason(model: Model) -> None:
    with judgekit.Judge("vllm:Qwen/Qwen3-8B", cache=False, max_attempts=3) as judge:
        judge.score(ROWS[:1], RUBRIC)
        _engine().dead = True
        [res] = judge.score(ROWS[1:2], RUBRIC)
    assert res.reward is None and res.scores == {"mentions_canberra": None, "polite": None}
    assert all("vLLM engine died" in reason for reason in res.unscored.values())
    assert judge.stats.retries == 0  # a dead engine is not retried


def test_an_engine_that_cannot_start_fails_each_call_with_the_reason(model: Model) -> None:
    from judgekit.llm.vllm_engine import VLLMEngineBackend

    backend = VLLMEngineBackend("Qwen/Qwen3-8B", tensor_parallel_sise=2)  # not an AsyncEngineArgs field
    with judgekit.Judge("vllm:Qwen/Qwen3-8B", backend=backend, cache=False) as judge:
        results = judge.score(ROWS[:2], RUBRIC)
    assert all(r.reward is None for r in results)
    assert all("could not start" in why and "tensor_parallel_sise" in why for r in results for why in r.unscored.values())
    assert judge.stats.retries == 0


def test_the_sampling_params_module_is_imported_by_the_backend(model: Model) -> None:
    """vLLM's package imports no submodule: `vllm.sampling_params` must be imported by name."""
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        del sys.modules[name]
    import vllm

    assert vllm.__version__ == "0.33.0" and "vllm.sampling_params" not in sys.modules
    from judgekit.llm.vllm_engine import VLLMEngineBackend

    backend = VLLMEngineBackend("m")
    assert backend._vllm.sampling.StructuredOutputsParams.__module__ == "vllm.sampling_params"


def test_logprob_conversion_reads_the_chosen_token_by_id(model: Model) -> None:
    from vllm.logprobs import Logprob

    from judgekit.llm.vllm_engine import openai_token_logprobs

    positions = [{7: Logprob(-0.1, 1, "tr"), 9: Logprob(-2.5, 2, "false")},
                 {3: Logprob(-1.2, 2, "ue"), 4: Logprob(-0.4, 1, "ish")}]  # the sampled token need not rank first
    entries = openai_token_logprobs([7, 3], positions)
    assert entries == [
        {"token": "tr", "logprob": -0.1, "top_logprobs": [{"token": "tr", "logprob": -0.1}, {"token": "false", "logprob": -2.5}]},
        {"token": "ue", "logprob": -1.2, "top_logprobs": [{"token": "ish", "logprob": -0.4}, {"token": "ue", "logprob": -1.2}]},
    ]
    assert math.isclose(sum(math.exp(t["logprob"]) for t in entries[0]["top_logprobs"]), math.exp(-0.1) + math.exp(-2.5))
    assert openai_token_logprobs([7], None) is None
    assert openai_token_logprobs([7], [{7: Logprob(-0.1, 1, None)}]) is None  # no text: no soft verdict, not a wrong one
