"""One HTTP client for OpenAI-compatible servers (OpenAI itself, `vllm serve`, llama.cpp, SGLang):
JSON posted with aiohttp, the answer or an HTTP error handed back, failures of the connection
classified for the retry policy.

Why not the openai SDK: judgekit sends one kind of request and reads one kind of answer, and the
SDK's per-request work (building and validating its typed request, an httpx-shaped transport over
aiohttp) was most of the client's CPU at 64 calls in flight (benchmarks/throughput.py). What
judgekit relied on the SDK for is here: the bearer key (and OpenAI's organization and project
headers), the base URL (`OPENAI_BASE_URL`), the proxy the environment names, a per-call timeout,
no retries of its own. Credentials in the base URL (`http://user:password@host/v1`) are sent as
`Basic` authorization in place of the key (a request has one Authorization header), and the URL
the client keeps and sends to has none.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
import urllib.request
from typing import Any

import aiohttp

from judgekit.llm.base import TransientError
from judgekit.secrets import clip, url_credentials, url_without_credentials

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Headers the openai SDK sends from these environment variables; judgekit sends them too.
_ENV_HEADERS = {"OPENAI_ORG_ID": "OpenAI-Organization", "OPENAI_PROJECT_ID": "OpenAI-Project"}
# Idle pooled connections are dropped after this (aiohttp sweeps them at about this interval, so
# one may wait up to twice as long): below the 5 s keep-alive of uvicorn-based servers (vLLM,
# SGLang, llama-cpp-python), so that few are closed by the server just as a request is written.
KEEPALIVE_S = 2.0


class HTTPStatusError(Exception):
    """An answer with an error status: the status, the body's text and its Retry-After header."""

    def __init__(self, status: int, text: str, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.text = text
        self.retry_after = retry_after


class JSONClient:
    """POSTs JSON to `base_url` + path. Its session is opened on first use, on the event loop that
    uses it (a Judge's own loop), and closed by `aclose`."""

    def __init__(self, base_url: str, *, api_key: str | None, timeout: float) -> None:
        self.base_url = url_without_credentials(base_url).rstrip("/")
        self._headers = {"Content-Type": "application/json", "User-Agent": "judgekit"}
        if (credentials := url_credentials(base_url)) is not None:
            user, password = credentials[1]
            self._headers["Authorization"] = aiohttp.BasicAuth(user, password or "", encoding="utf-8").encode()
        elif api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        for env, header in _ENV_HEADERS.items():
            if os.environ.get(env):
                self._headers[header] = os.environ[env]
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._proxy = env_proxy(self.base_url)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # No connection limit here: the call runner's concurrency limit is the one that counts,
        # and a second, smaller one would queue calls inside their timeout.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_S)
        self._session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout)
        return self._session

    async def post(self, path: str, body: dict[str, Any] | bytes) -> object:
        """The decoded JSON answer (its text if it is not JSON); HTTPStatusError for a status >= 400;
        TransientError for a timeout or a failed connection. `body`: an object, or its JSON already encoded."""
        return await self._request("POST", path, body if isinstance(body, bytes) else json.dumps(body).encode())

    async def get(self, path: str) -> object:
        """As `post`, for a GET of `path`."""
        return await self._request("GET", path, None)

    async def _request(self, method: str, path: str, data: bytes | None) -> object:
        session = self._session or self._open()
        try:
            try:
                return await self._send(session, method, path, data)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if isinstance(exc, aiohttp.ClientConnectorError):
                    raise
                # A pooled connection the server had closed (it went away or could not take the
                # request): the request never reached the server, so it is sent again at once.
                return await self._send(session, method, path, data)
        except asyncio.TimeoutError:
            raise TransientError("timed out") from None
        except aiohttp.ClientError as exc:
            raise TransientError(clip(f"connection failed: {exc}", 300)) from None

    async def _send(self, session: aiohttp.ClientSession, method: str, path: str, data: bytes | None) -> object:
        async with session.request(method, self.base_url + path, data=data, proxy=self._proxy) as resp:
            text = await resp.text(errors="replace")
            if resp.status >= 400:
                raise HTTPStatusError(resp.status, text, resp.headers.get("Retry-After"))
            return _decoded(text)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), looked up
    once: aiohttp's own lookup (trust_env) runs in a thread on every request."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _decoded(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text
