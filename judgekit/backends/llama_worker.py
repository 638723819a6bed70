"""The embedded judge's model process: llama.cpp runs here, never in the judging process.

A llama.cpp build made for another CPU dies with SIGSEGV or SIGILL inside native code, and an
out-of-memory kill takes the whole process; neither can be caught in Python. Run in a child
process, such a death is an EOF on the pipe that the parent turns into one clear message.

    python -m judgekit.backends.llama_worker FD MODEL.gguf N_CTX N_THREADS

FD is the child's end of a socket pair. The protocol is pickled tuples over a
multiprocessing Connection: the worker first sends ("ready", None), ("error", message) when the
model does not load, or ("broken", message) when llama.cpp cannot be imported; then for each
("complete", kwargs) it answers ("ok", response) or ("error", message).
"""

from __future__ import annotations

import ctypes
import sys
from multiprocessing.connection import Connection
from typing import Any


def _quiet(llama_cpp: Any) -> Any:
    """llama.cpp logs to stderr even with verbose=False; the parent's stderr is for judgekit's messages."""
    callback = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback  # kept alive by the caller: llama.cpp holds a raw pointer to it


def serve(conn: Connection, path: str, n_ctx: int, n_threads: int) -> None:
    try:
        import llama_cpp
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which names the fix
        conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    _keep = _quiet(llama_cpp)
    try:
        llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which names the file
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            op, kwargs = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if op != "complete":
            return
        try:
            conn.send(("ok", llm.create_chat_completion(**kwargs)))
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            conn.send(("error", str(exc)))


def main(argv: list[str]) -> None:
    fd, path, n_ctx, n_threads = argv
    serve(Connection(int(fd)), path, int(n_ctx), int(n_threads))


if __name__ == "__main__":
    main(sys.argv[1:])
