"""The embedded judge's model process: llama.cpp runs here, never in the judging process.

A llama.cpp build made for another CPU dies with SIGSEGV or SIGILL inside native code, and an
out-of-memory kill takes the whole process; neither can be caught in Python. Run in a child
process, such a death is an EOF on the pipe that the parent turns into one clear message.

    python -m judgekit.llm.llama_worker FD MODEL.gguf N_CTX N_THREADS

FD is the child's end of a socket pair. The protocol is pickled tuples over a
multiprocessing Connection: the worker first sends ("ready", None), ("error", message) when the
model does not load, or ("broken", message) when llama.cpp cannot be imported; then for each
("complete", kwargs) it answers ("ok", response) or ("error", message). kwargs are
create_chat_completion's, plus FIRST_TOKEN_TOP_LOGPROBS (an int k, taken out here): the response then
carries OpenAI-style `logprobs.content` whose first entry is the first generated token with its top-k
alternatives, and whose second holds the rest of the text with no log-probabilities.
"""

from __future__ import annotations

import ctypes
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from judgekit.llm.base import FIRST_TOKEN_TOP_LOGPROBS

if TYPE_CHECKING:  # numpy comes with llama-cpp-python (the [local] extra); the parent imports this module
    import numpy as np
    from numpy.typing import NDArray

# llama.cpp holds a raw pointer to the log callback and logs when a model is freed. The callback lives
# as long as the process: freed before the model (a local of serve() is), its trampoline is reused by
# another ctypes callback, which llama_free then calls at exit ("Exception ignored on calling ctypes
# callback function ... takes 2 positional arguments but 3 were given").
_LOG_CALLBACK: Any = None


def _quiet(llama_cpp: Any) -> None:
    """llama.cpp logs to stderr even with verbose=False; the parent's stderr is for judgekit's messages."""
    global _LOG_CALLBACK
    _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


class _FirstToken:
    """A logits processor that keeps the log-probabilities at the last prompt position. llama.cpp
    returns log-probabilities only for a model loaded with logits_all=True (n_ctx x vocabulary floats:
    8 GB for Gemma at n_ctx 8192); the sampler sees the last position's logits anyway, so they are read
    there, once, without changing what is sampled."""

    def __init__(self) -> None:
        self.calls = 0
        self.prompt_len = 0
        self.logprobs: NDArray[np.float32] | None = None
        self.token: int | None = None  # the first generated token, seen when the second is sampled

    def __call__(self, input_ids: NDArray[np.intc], logits: NDArray[np.float32]) -> NDArray[np.float32]:
        self.calls += 1
        if self.calls == 1:
            import numpy as np

            self.prompt_len = len(input_ids)
            shifted = logits - logits.max()
            self.logprobs = shifted - np.log(np.exp(shifted).sum())
        elif self.calls == 2:
            self.token = int(input_ids[self.prompt_len])
        return logits

    def content(self, llm: Any, text: str, k: int) -> list[dict[str, Any]] | None:
        """OpenAI `logprobs.content` for `text`, or None when the first token cannot be placed in it."""
        if self.logprobs is None:
            return None
        import numpy as np

        lp = self.logprobs
        first = self.token if self.token is not None else int(lp.argmax())  # one token generated: the text is it

        def piece(token: int) -> str:
            return bytes(llm.detokenize([token])).decode("utf-8", errors="ignore")

        head = piece(first)
        if not head or not text.startswith(head):
            return None
        top = [{"token": piece(int(t)), "logprob": float(lp[t])} for t in np.argsort(lp)[::-1][:k]]
        return [{"token": head, "logprob": float(lp[first]), "top_logprobs": top},
                {"token": text[len(head):], "logprob": None, "top_logprobs": []}]


def _complete(llm: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    k = kwargs.pop(FIRST_TOKEN_TOP_LOGPROBS, 0)
    if not k:
        return llm.create_chat_completion(**kwargs)
    import llama_cpp

    first = _FirstToken()
    resp = llm.create_chat_completion(**kwargs, logits_processor=llama_cpp.LogitsProcessorList([first]))
    choice = resp["choices"][0]
    content = first.content(llm, choice["message"].get("content") or "", k)
    choice["logprobs"] = {"content": content} if content else None
    return resp


def serve(conn: Connection, path: str, n_ctx: int, n_threads: int) -> None:
    try:
        import llama_cpp
    except Exception as exc:
        conn.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    _quiet(llama_cpp)
    try:
        llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    try:
        _answer(conn, llm)
    finally:
        llm.close()  # now, while the interpreter is whole, not from a finalizer at shutdown


def _answer(conn: Connection, llm: object) -> None:
    """Answer requests until the parent closes its end or asks for something else."""
    while True:
        try:
            op, kwargs = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if op != "complete":
            return
        try:
            answer: tuple[str, Any] = ("ok", _complete(llm, kwargs))
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            answer = ("error", str(exc))
        try:
            conn.send(answer)
        except OSError:  # the parent is gone (it stopped waiting for this answer)
            return


def main(argv: list[str]) -> None:
    fd, path, n_ctx, n_threads = argv
    serve(Connection(int(fd)), path, int(n_ctx), int(n_threads))


if __name__ == "__main__":
    main(sys.argv[1:])
