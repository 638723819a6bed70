"""`judgekit serve`: an HTTP reward server in OpenRLHF's remote reward model contract.

OpenRLHF (`--remote_rm_url http://127.0.0.1:8000/get_reward`) POSTs
    {"query": [prompt+response, ...], "prompts": [prompt, ...], "labels": [reference, ...]}
and reads
    {"rewards": [float, ...], "scores": [float, ...], "extra_logs": {name: [float, ...]}}.

`query` is the decoded prompt and response together. The response judged is `query[len(prompt):]`
when the query starts with its prompt; otherwise the text after the prompt's last occurrence in the
query (the decoded query may carry a BOS token or other special tokens before the prompt); otherwise
the whole query. Known end-of-text tokens (`--strip`) are removed from the end of the response.
Without `prompts`, the whole query is the response and the prompt is empty. `labels` are the
references (optional).

`rewards` are the shaped rewards, `scores` the unshaped rubric rewards (OpenRLHF's dynamic
filtering reads them), both numbers: an unscorable response gets `unscored_reward` (0.0 unless
set), and `extra_logs["judgekit/scored"]` says which were scored. `extra_logs` also carries one
list per criterion of the server's rubric (`judgekit/<id>`: 1.0 MET, 0.0 UNMET, NaN-free: unscored
is reported as `unscored_reward`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from judgekit.errors import InputError
from judgekit.rewards import RewardScorer
from judgekit.rubric import Rubric
from judgekit.shaping import Shaping

if TYPE_CHECKING:
    from judgekit.judge import Judge

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_STRIP = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "</s>", "<eos>", "<|end|>")


@dataclass(frozen=True)
class ServeOptions:
    max_bytes: int = DEFAULT_MAX_BYTES
    """Largest request body accepted (413 above it)."""
    max_items: int = 65536
    """Largest number of queries in one request."""
    unscored_reward: float = 0.0
    """The number sent for an unscorable response (OpenRLHF needs numbers)."""
    strip: tuple[str, ...] = DEFAULT_STRIP
    """End-of-text tokens removed from the end of a response."""


class RequestProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def split_query(query: str, prompt: str | None, strip: tuple[str, ...] = DEFAULT_STRIP) -> str:
    """The response part of an OpenRLHF query (see the module's docstring)."""
    if prompt:
        if query.startswith(prompt):
            response = query[len(prompt):]
        else:
            at = query.rfind(prompt)
            response = query[at + len(prompt):] if at >= 0 else query
    else:
        response = query
    changed = True
    while changed:
        changed = False
        trimmed = response.rstrip()
        for token in strip:
            if token and trimmed.endswith(token):
                response = trimmed[: -len(token)]
                changed = True
    return response.strip()


def parse_request(body: Any, max_items: int) -> tuple[list[str], list[str] | None, list[Any] | None]:
    if not isinstance(body, dict):
        raise RequestProblem(400, "the body must be a JSON object with 'query' (and optionally 'prompts', 'labels')")
    query = body.get("query")
    if not isinstance(query, list) or not all(isinstance(q, str) for q in query):
        raise RequestProblem(422, "'query' must be a list of strings")
    if len(query) > max_items:
        raise RequestProblem(413, f"too many queries: {len(query)} (at most {max_items})")
    prompts = body.get("prompts")
    if prompts is not None and (
        not isinstance(prompts, list) or len(prompts) != len(query) or not all(isinstance(p, str) for p in prompts)
    ):
        raise RequestProblem(422, f"'prompts' must be a list of {len(query)} strings, one per query")
    labels = body.get("labels")
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(query)):
        raise RequestProblem(422, f"'labels' must be a list of {len(query)} values, one per query")
    return query, prompts, labels


async def reward_response(
    scorer: RewardScorer, options: ServeOptions, query: list[str], prompts: list[str] | None, labels: list[Any] | None
) -> dict[str, Any]:
    n = len(query)
    the_prompts = prompts or [""] * n
    responses = [split_query(q, p, options.strip) for q, p in zip(query, the_prompts)]
    references = [None if (not labels or labels[i] in ("", None)) else labels[i] for i in range(n)]
    result = await scorer.score_batch(the_prompts, responses, references=references)
    default = options.unscored_reward
    extra: dict[str, list[float]] = {"judgekit/scored": [0.0 if r is None else 1.0 for r in result.raw]}
    if scorer.rubric is not None:
        for cid in scorer.rubric.ids:
            extra[f"judgekit/{cid}"] = [default if s.get(cid) is None else float(s[cid]) for s in result.scores]  # type: ignore[arg-type]
    return {
        "rewards": [default if r is None else float(r) for r in result.rewards],
        "scores": [default if r is None else float(r) for r in result.raw],
        "extra_logs": extra,
    }


def build_app(rubric: Rubric, judge: "Judge", *, shaping: Shaping | None = None,
              options: ServeOptions | None = None, strategy: str = "pointwise") -> Any:
    """The starlette app: POST / and /get_reward, GET /health."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    opts = options or ServeOptions()
    scorer = RewardScorer(rubric, judge, strategy=strategy, shaping=shaping)

    def problem(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise RequestProblem(400, "bad Content-Length header")
            if int(declared) > opts.max_bytes:
                raise RequestProblem(413, f"request body too large (limit {opts.max_bytes} bytes)")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > opts.max_bytes:
                raise RequestProblem(413, f"request body too large (limit {opts.max_bytes} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_reward(request: Request) -> JSONResponse:
        try:
            ctype = request.headers.get("content-type", "application/json")
            if "json" not in ctype:
                raise RequestProblem(415, "send the request as application/json")
            raw = await read_body(request)
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RequestProblem(400, f"the body is not valid JSON: {exc}") from None
            query, prompts, labels = parse_request(body, opts.max_items)
            return JSONResponse(await reward_response(scorer, opts, query, prompts, labels))
        except RequestProblem as exc:
            return problem(exc.status, exc.message)
        except InputError as exc:
            return problem(422, str(exc))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "rubric": rubric.name, "criteria": rubric.ids, "judge": judge.spec})

    return Starlette(routes=[
        Route("/", get_reward, methods=["POST"]),
        Route("/get_reward", get_reward, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])


def serve(rubric: Rubric, judge: "Judge", *, host: str = "127.0.0.1", port: int = 8000,
          shaping: Shaping | None = None, options: ServeOptions | None = None, strategy: str = "pointwise") -> None:
    """Run the reward server until interrupted."""
    import uvicorn

    uvicorn.run(build_app(rubric, judge, shaping=shaping, options=options, strategy=strategy),
                host=host, port=port, log_level="warning", access_log=False)
