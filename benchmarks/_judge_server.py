"""Start `python -m judgekit.testing` (a scripted judge with fixed latency) as a separate process,
so the judge server uses the second core and the measured client is alone on the first."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def judge_server(latency: float) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "judgekit.testing", "--port", str(port), "--latency", str(latency)])
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("judge server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
