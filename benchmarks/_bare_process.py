"""A bare aiohttp process: post the chat bodies of a JSON file to a judge server, `concurrency` at a
time, each reply's JSON and its content's JSON decoded, then exit. What `judgekit score` is measured
against as a whole process, start-up included (benchmarks/throughput_process.py).

    python benchmarks/_bare_process.py BASE_URL BODIES.json CONCURRENCY
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp


async def main(base_url: str, bodies: list[dict[str, Any]], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/chat/completions"

    async def one(session: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        async with slots, session.post(url, json=body) as resp:
            resp.raise_for_status()
            reply = await resp.json()
        assert json.loads(reply["choices"][0]["message"]["content"])["verdicts"], reply

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": "Bearer x"}) as session:
        await asyncio.gather(*(one(session, body) for body in bodies))


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as f:
        loaded = json.load(f)
    asyncio.run(main(sys.argv[1], loaded, int(sys.argv[3])))
