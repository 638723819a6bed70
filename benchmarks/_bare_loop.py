"""The yardstick for judgekit's client cost: the same judge calls made by a bare aiohttp loop.

`recorded_requests` runs the judgekit call once against a recording backend (no HTTP) and keeps
every request it makes; `chat_body` turns each into the OpenAI chat-completions body judgekit
sends; `bare_loop` posts those bodies with nothing around them (one aiohttp session, a semaphore
for the concurrency, the reply's JSON and its content's JSON decoded) and returns the seconds taken.
Both sides run on uvloop where it is installed, as judgekit's own loop does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

import judgekit

T = TypeVar("T")


class RecordingBackend:
    """A judgekit Backend that answers MET (or a tie) to everything at once and keeps each request."""

    def __init__(self) -> None:
        self.requests: list[judgekit.JudgeRequest] = []

    def identity(self) -> dict[str, Any]:
        return {"backend": "recording"}

    async def complete(self, request: judgekit.JudgeRequest) -> judgekit.Completion:
        self.requests.append(request)
        verdict = {"met": True} if request.mode == "pointwise" else {"preference": "tie"}
        return judgekit.Completion(text=json.dumps({"verdicts": [{"criterion_id": c, "reasoning": "r", **verdict} for c in request.ids]}))

    async def aclose(self) -> None:
        return None


def recorded_requests(run: Callable[[judgekit.Judge], object], **judge_options: Any) -> list[judgekit.JudgeRequest]:
    """The requests `run(judge)` makes, in order, with a judge on the recording backend."""
    backend = RecordingBackend()
    with judgekit.Judge("openai:scripted", backend=backend, cache=False, **judge_options) as judge:
        run(judge)
    return backend.requests


def chat_body(request: judgekit.JudgeRequest, model: str = "scripted") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": list(request.messages), "max_tokens": request.max_tokens,
                            "temperature": request.temperature, "seed": request.seed}
    if request.schema is not None:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "judge_verdicts", "schema": request.schema, "strict": True}}
    return body


def run_loop(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro_fn())
    return uvloop.run(coro_fn())


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


async def _post_all(session: aiohttp.ClientSession, url: str, bodies: list[dict[str, Any]], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> None:
        async with slots, session.post(url, json=body) as resp:
            resp.raise_for_status()
            reply = await resp.json()
        verdicts = json.loads(reply["choices"][0]["message"]["content"])["verdicts"]
        assert verdicts, reply

    await asyncio.gather(*(one(b) for b in bodies))


def bare_loop(base_url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process) for a bare aiohttp loop to make these calls, after one
    warm-up round of `concurrency` calls."""

    async def main() -> tuple[float, float]:
        connector = aiohttp.TCPConnector(limit=concurrency)
        headers = {"Authorization": "Bearer bench-not-a-key"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            url = base_url.rstrip("/") + "/chat/completions"
            await _post_all(session, url, bodies[:concurrency], concurrency)
            started, cpu = time.perf_counter(), time.process_time()
            await _post_all(session, url, bodies, concurrency)
            return time.perf_counter() - started, time.process_time() - cpu

    return run_loop(main)
