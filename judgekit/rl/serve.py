"""`judgekit serve`: an HTTP reward server in OpenRLHF's remote reward model contract.

OpenRLHF (`--reward.remote_url http://127.0.0.1:8000/get_reward` from 0.10.2, `--remote_rm_url`
before) POSTs
    {"query": [prompt+response, ...], "prompts": [prompt, ...], "labels": [reference, ...]}
and reads
    {"rewards": [float, ...], "scores": [float, ...], "extra_logs": {name: [float, ...]}}.
OpenRLHF 0.11 sends one sample per request (and waits 180 s, 5 tries); earlier versions sent batches.

`query` is the decoded prompt and response together. The response judged is `query[len(prompt):]`
when the query starts with its prompt; otherwise the text after the prompt's last occurrence in the
query (the decoded query may carry a BOS token or other special tokens before the prompt); otherwise
the whole query. The end-of-turn and end-of-text markup of the common chat templates (`strip`) is
removed from the end of the response. Without `prompts`, the whole query is the response and the
prompt is empty. `labels` are the references (optional).

Options that need a prompt's other samples (group normalisation, length debiasing, the round_robin
strategy) are refused at start-up: with one sample per request they would give every response the
same number. The anchor strategy compares each response with its label; a response without one is
unscored ("no label"), never the 0.5 of a tie with itself.

`rewards` are the shaped rewards, `scores` the unshaped rubric rewards (OpenRLHF's dynamic
filtering reads them), both numbers. A response without a reward (the coverage rule: the judge
failed, a hard rule is unscored, coverage fell short of the Judge's `min_coverage`, no label for
the anchor strategy, or the request's time bound ran out) gets `unscored_reward` (0.0 unless set),
never a number the failing judge produced. `extra_logs` has one value per response in every list
(OpenRLHF's shape): `judgekit/scored` and `judgekit/unscored` (1.0 / 0.0), `judgekit/timed_out`
(1.0 when the time bound cut its judging), `judgekit/unscored_count` (the request's count of
responses without a reward, repeated, so its logged mean is that count), and one list per criterion
of the server's rubric (`judgekit/<id>`: 1.0 MET, 0.0 UNMET, unscored reported as `unscored_reward`).
The guards (judgekit.rl.guards: canaries, audits, rubric dropout) add what they measured in the
request (`judgekit/canary_fpr/<family>`, `judgekit/audit_reward_gap`, ...), repeated per response.

Each request is judged within `request_timeout` seconds (default 150, below OpenRLHF's 180 s client
timeout); responses not judged by then are unscored with the reason "timed out".
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from typing import TypeGuard

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from judgekit.errors import InputError
from judgekit.jsonvalue import JSONValue
from judgekit.judge import Judge, JudgeLike, judge_or_spec
from judgekit.judging.ranking import check_strategy
from judgekit.rl.options import RewardOptions
from judgekit.rl.rewards import BatchRewards, RewardScorer, UnscoredTally, refuse_reserved_ids
from judgekit.rl.shaping import Shaping
from judgekit.rubric.models import Rubric, empty_rubric
from judgekit.secrets import redact

logger = logging.getLogger("judgekit")
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
SERVE_KEYS = frozenset({"scored", "unscored", "timed_out", "unscored_count"})
DEFAULT_STRIP = (
    "<end_of_turn>", "<eos>",  # Gemma
    "<|im_end|>", "<|endoftext|>",  # Qwen, ChatML
    "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|eot|>",  # Llama 3, Llama 4
    "</s>",  # Mistral, Llama 2
    "<|end|>", "<|return|>",  # Phi-3, gpt-oss
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek
)
NO_LABEL = "no label: the anchor strategy compares each response with its label (the reference)"
OPENRLHF_TIMEOUT = 180.0


@dataclass(frozen=True, kw_only=True)
class ServeOptions(RewardOptions):
    """The reward server's options: the reward options every adapter takes (RewardOptions: strategy,
    shaping, `unscored_reward`, ...) and what the server alone needs."""

    max_bytes: int = DEFAULT_MAX_BYTES
    """Largest request body accepted (413 above it)."""
    max_items: int = 65536
    """Largest number of queries in one request."""
    request_timeout: float = 150.0
    """Seconds a request's judging may take (OpenRLHF's client gives up at 180 s); responses not
    judged by then are unscored ("timed out")."""
    strip: tuple[str, ...] = DEFAULT_STRIP
    """End-of-text tokens removed from the end of a response."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # A limit of 0 or below refuses every request.
        if not (math.isfinite(self.request_timeout) and self.request_timeout > 0):
            raise InputError(f"request_timeout takes a finite number of seconds above 0, got {self.request_timeout!r}",
                             field="request_timeout")
        for name, value in (("max_bytes", self.max_bytes), ("max_items", self.max_items)):
            if value < 1:
                raise InputError(f"{name} must be at least 1, got {value!r}", field=name)


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


def decode_body(raw: bytes) -> JSONValue:
    """The request body as JSON; a body that is not JSON, nests too deeply or holds text that is not
    valid Unicode (a lone surrogate such as "\\ud800") is a 400."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestProblem(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestProblem(400, "the body is not valid JSON: nested too deeply") from None
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestProblem(400, f"the body holds text that is not valid Unicode ({exc.reason})") from None
    except RecursionError:
        raise RequestProblem(400, "the body is not valid JSON: nested too deeply") from None
    return body


def parse_request(body: JSONValue, max_items: int) -> tuple[list[str], list[str] | None, list[JSONValue] | None]:
    if not isinstance(body, dict):
        raise RequestProblem(400, "the body must be a JSON object with 'query' (and optionally 'prompts', 'labels')")
    query = body.get("query")
    if not _strings(query):
        raise RequestProblem(422, "'query' must be a list of strings")
    if len(query) > max_items:
        raise RequestProblem(413, f"too many queries: {len(query)} (at most {max_items})")
    prompts = body.get("prompts")
    if prompts is not None and (not _strings(prompts) or len(prompts) != len(query)):
        raise RequestProblem(422, f"'prompts' must be a list of {len(query)} strings, one per query")
    labels = body.get("labels")
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(query)):
        raise RequestProblem(422, f"'labels' must be a list of {len(query)} values, one per query")
    return query, prompts, labels


def _strings(value: JSONValue) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def refuse_per_sample_misfits(strategy: str, shaping: Shaping) -> None:
    """Options that need a prompt's other samples are bad input: OpenRLHF sends one sample per request,
    so each would see a group of one and give every response the same number."""
    why = "needs a prompt's group of responses, but OpenRLHF sends one response per request"
    if shaping.normalize:
        raise InputError(f"--normalize {why}: every reward would be 0.0 (OpenRLHF's group estimators "
                         "normalise per prompt already)", field="--normalize")
    if shaping.length_debias:
        raise InputError(f"--length-debias {why}: it would never change a reward", field="--length-debias")
    if strategy == "round_robin":
        raise InputError(f"--strategy round_robin {why}: every reward would be 0.5; use pointwise, or anchor "
                         "with labels (each response against its label)", field="--strategy")


async def _judge(scorer: RewardScorer, prompts: list[str], responses: list[str], references: list[JSONValue],
                 timeout: float) -> BatchRewards:
    """The batch's rewards. With the anchor strategy only the responses with a label are judged (each
    against its label); the others are unscored (NO_LABEL), never the 0.5 of a tie with itself."""
    n = len(responses)
    keep = [i for i in range(n) if scorer.options.strategy != "anchor" or references[i] is not None]
    if len(keep) == n:
        return await scorer.score_batch(prompts, responses, references=references, timeout=timeout)
    rubric = scorer.rubric or empty_rubric()  # none: the criteria are written per pair (adaptive)
    ids = rubric.ids
    out = BatchRewards([None] * n, [None] * n, [dict.fromkeys(ids) for _ in range(n)],
                       [{"*": NO_LABEL} for _ in range(n)], [rubric] * n, 0, list(ids), [None] * n, [False] * n)
    if keep:
        part = await scorer.score_batch([prompts[i] for i in keep], [responses[i] for i in keep],
                                        references=[references[i] for i in keep], timeout=timeout)
        out.judged = part.judged
        for j, i in enumerate(keep):
            out.rewards[i], out.raw[i], out.scores[i] = part.rewards[j], part.raw[j], part.scores[j]
            out.unscored[i], out.coverage[i], out.timed_out[i] = part.unscored[j], part.coverage[j], part.timed_out[j]
    return out


async def reward_response(
    scorer: RewardScorer, options: ServeOptions, query: list[str], prompts: list[str] | None, labels: list[JSONValue] | None,
    tally: UnscoredTally | None = None,
) -> dict[str, list[float] | dict[str, list[float]]]:
    n = len(query)
    the_prompts = prompts or [""] * n
    responses = [split_query(q, p, options.strip) for q, p in zip(query, the_prompts)]
    references = [None if (not labels or labels[i] in ("", None)) else labels[i] for i in range(n)]
    result = await _judge(scorer, the_prompts, responses, references, options.request_timeout)
    if tally is not None:
        tally.note(result)
    default = options.unscored_reward
    unscored = [1.0 if r is None else 0.0 for r in result.raw]
    extra: dict[str, list[float]] = {
        "judgekit/scored": [1.0 - u for u in unscored],
        "judgekit/unscored": unscored,
        "judgekit/timed_out": [1.0 if t else 0.0 for t in result.timed_out],
        "judgekit/unscored_count": [float(result.unscored_count)] * n,
    }
    for key, value in result.guards.metrics.items():  # canaries, audits, dropout measured in this request
        extra[key] = [float(value)] * n
    if scorer.rubric is not None:
        for cid in scorer.rubric.ids:
            extra[f"judgekit/{cid}"] = [default if s.get(cid) is None else float(s[cid]) for s in result.scores]  # type: ignore[arg-type]
    return {
        "rewards": [default if r is None else float(r) for r in result.rewards],  # shaping keeps None as None
        "scores": [default if r is None else float(r) for r in result.raw],
        "extra_logs": extra,
    }


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused (413) past `max_bytes` whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestProblem(400, "bad Content-Length header")
        if int(declared) > max_bytes:
            raise RequestProblem(413, f"request body too large (limit {max_bytes} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestProblem(413, f"request body too large (limit {max_bytes} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


class _Endpoints:
    """The server's handlers: one scorer, and one running count of responses without a reward."""

    def __init__(self, rubric: Rubric | None, judge: Judge, options: ServeOptions) -> None:
        if rubric is None and options.adaptive is None:
            raise InputError("the reward server needs a rubric, or a meta-rubric (adaptive) that writes the criteria per pair",
                             field="rubric")
        refuse_reserved_ids(rubric, SERVE_KEYS, "judgekit/{}")
        refuse_per_sample_misfits(options.strategy, options.shaping)
        self.rubric, self.judge, self.options = rubric, judge, options
        self.scorer = RewardScorer(rubric, judge, options)
        self.tally = UnscoredTally(f"--unscored-reward {options.unscored_reward}")

    async def get_reward(self, request: Request) -> JSONResponse:
        """Every failure is a JSON error: a trainer reads JSON, never a plain-text 500."""
        try:
            if "json" not in request.headers.get("content-type", "application/json"):
                raise RequestProblem(415, "send the request as application/json")
            body = decode_body(await _read_body(request, self.options.max_bytes))
            query, prompts, labels = parse_request(body, self.options.max_items)
            return JSONResponse(await reward_response(self.scorer, self.options, query, prompts, labels, self.tally))
        except RequestProblem as exc:
            return _problem(exc.status, exc.message)
        except InputError as exc:
            return _problem(422, redact(str(exc)))
        except Exception as exc:
            message = f"the request failed: {type(exc).__name__}: {redact(str(exc))}"[:1000]
            logger.error("judgekit serve: %s", message)
            return _problem(500, message)

    async def health(self, request: Request) -> JSONResponse:
        rubric = self.rubric
        body = {"status": "ok", "rubric": rubric.name if rubric else None, "criteria": rubric.ids if rubric else [],
                "judge": self.judge.spec}
        if self.options.adaptive is not None:
            body["adaptive"] = self.options.adaptive.name
        return JSONResponse(body)


def serve_options(options: ServeOptions | None, shaping: Shaping | None, strategy: str | None) -> ServeOptions:
    """`options` (or the defaults), with `shaping` and `strategy` in place of its own when given."""
    out = options or ServeOptions()
    if shaping is not None:
        out = replace(out, shaping=shaping)
    return out if strategy is None else replace(out, strategy=check_strategy(strategy, field="strategy"))


def build_app(rubric: Rubric | None, judge: JudgeLike, *, shaping: Shaping | None = None,
              options: ServeOptions | None = None, strategy: str | None = None) -> Starlette:
    """The starlette app: POST / and /get_reward, GET /health. `judge`: a Judge, a JudgeSpec or a spec
    string (built here). `shaping`, `strategy`: shorthands that replace those of `options`. `rubric`
    may be None when `options.adaptive` writes the criteria for each (response, label) pair."""
    described = judge_or_spec(judge, call="build_app()")
    endpoints = _Endpoints(rubric, described if isinstance(described, Judge) else described.build(),
                           serve_options(options, shaping, strategy))
    return Starlette(routes=[
        Route("/", endpoints.get_reward, methods=["POST"]),
        Route("/get_reward", endpoints.get_reward, methods=["POST"]),
        Route("/health", endpoints.health, methods=["GET"]),
    ])


def serve(rubric: Rubric | None, judge: JudgeLike, *, host: str = "127.0.0.1", port: int = 8000,
          shaping: Shaping | None = None, options: ServeOptions | None = None, strategy: str | None = None) -> None:
    """Run the reward server until interrupted (`judge` as for build_app)."""
    import uvicorn

    uvicorn.run(build_app(rubric, judge, shaping=shaping, options=options, strategy=strategy),
                host=host, port=port, log_level="warning", access_log=False)
