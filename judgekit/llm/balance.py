"""Several servers of one judge model (`--base-url` repeated): each call goes to the server with
the fewest calls outstanding; a server that keeps failing is set aside for a while, then tried again.

A server is set aside after SET_ASIDE_AFTER failures in a row that are its own (TransientError: it
refused the connection, timed out, answered 429 or 5xx); a call refused for what it asked (400) says
nothing about the server and does not count. The first time it is set aside for COOLDOWN_S seconds,
each time after for twice as long (at most MAX_COOLDOWN_S); its next call after that is a trial, and
one success puts it back for good. A failed call is retried by the call runner like any other, and
its retry goes to another server. When every server is set aside, a call fails at once with each
server's last reason, so that a run whose servers are all down ends with those reasons.

The check before a run (`check`) asks every server; one that does not answer is set aside as if it
had failed SET_ASIDE_AFTER calls (a warning on the `judgekit` logger names it), and the run goes on
with the others. Only when none answers does the check fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from judgekit.llm.base import Backend, Completion, FatalError, Identity, JudgeRequest, ServerUsage, TransientError
from judgekit.secrets import clip, shown_url

log = logging.getLogger("judgekit.llm.balance")

SET_ASIDE_AFTER = 3
COOLDOWN_S = 5.0
MAX_COOLDOWN_S = 60.0


@dataclass
class Server:
    """One server of a balanced judge, and how it has done."""

    url: str  # as shown: credentials masked
    backend: Backend
    outstanding: int = 0
    calls: int = 0
    failures: int = 0  # calls that failed for the server's own reasons
    streak: int = 0  # such failures in a row
    times_set_aside: int = 0
    level: int = 0  # set aside this many times since its last success: the next cooldown doubles
    aside_until: float = 0.0
    last_error: str = ""

    def available(self, now: float) -> bool:
        # Back from being set aside, a server takes one trial call at a time until one succeeds.
        on_trial = self.streak >= SET_ASIDE_AFTER
        return now >= self.aside_until and not (on_trial and self.outstanding)

    def usage(self) -> ServerUsage:
        return {"base_url": self.url, "calls": self.calls, "failed": self.failures,
                "set_aside": self.times_set_aside, "last_error": self.last_error or None}


class BalancedBackend(Backend):
    """A Backend over several backends of the same model, one per server."""

    enforces_timeout = True

    def __init__(self, servers: Sequence[tuple[str, Backend]]) -> None:
        self.servers = [Server(shown_url(url), backend) for url, backend in servers]
        self._next = 0  # round robin among servers with as few calls outstanding

    def identity(self) -> Identity:
        first = self.servers[0].backend.identity()
        return {**first, "base_url": sorted(s.url for s in self.servers)}

    def _pick(self) -> Server:
        now = time.monotonic()
        ready = [s for s in self.servers if s.available(now)]
        if not ready:
            reasons = "; ".join(f"{s.url}: {s.last_error}" for s in self.servers)
            raise TransientError(clip(f"every judge server is set aside after failing ({reasons})", 1200))
        self._next = (self._next + 1) % len(self.servers)
        fewest = min(s.outstanding for s in ready)
        candidates = [s for s in ready if s.outstanding == fewest]
        return candidates[self._next % len(candidates)]

    async def complete(self, request: JudgeRequest) -> Completion:
        server = self._pick()
        server.outstanding += 1
        server.calls += 1
        try:
            completion = await server.backend.complete(request)
        except TransientError as exc:
            self._failed(server, str(exc))
            raise
        finally:
            server.outstanding -= 1
        server.streak = server.level = 0
        return completion

    def _failed(self, server: Server, reason: str) -> None:
        server.failures += 1
        server.streak += 1
        server.last_error = clip(reason, 300)
        now = time.monotonic()
        if server.streak >= SET_ASIDE_AFTER and now >= server.aside_until:  # (not again for calls already in flight)
            self._set_aside(server, now)
            log.warning("%s failed %d calls in a row (%s); set aside for %g s, the run goes on with the other servers",
                        server.url, server.streak, server.last_error, server.aside_until - now,
                        extra={"notice": "server set aside"})

    def _set_aside(self, server: Server, now: float) -> None:
        cooldown = min(COOLDOWN_S * 2 ** server.level, MAX_COOLDOWN_S)
        server.level += 1
        server.times_set_aside += 1
        server.aside_until = now + cooldown

    async def check(self) -> None:
        """Ask every server; set aside each one that does not answer (saying so), and fail only
        when none answers (FatalError with each server's reason)."""
        outcomes = await asyncio.gather(*(s.backend.check() for s in self.servers), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, FatalError):
                raise outcome
        failed = [(s, str(o)) for s, o in zip(self.servers, outcomes) if isinstance(o, FatalError)]
        if len(failed) == len(self.servers):
            raise FatalError("; ".join(reason for _, reason in failed))
        for server, reason in failed:
            server.streak, server.last_error = SET_ASIDE_AFTER, clip(reason, 300)
            self._set_aside(server, time.monotonic())
            log.warning("%s; set aside, the run goes on with the other servers (it is tried again after %g s)",
                        reason, server.aside_until - time.monotonic(), extra={"notice": "server set aside"})

    def server_usage(self) -> list[ServerUsage]:
        """Per server: its URL, calls sent, calls failed for its own reasons, times set aside, last error."""
        return [s.usage() for s in self.servers]

    async def aclose(self) -> None:
        for server in self.servers:
            await server.backend.aclose()
