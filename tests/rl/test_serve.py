"""`judgekit serve`: OpenRLHF's remote reward model contract, over real HTTP, as a user runs it."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from judgekit.rl.serve import RequestProblem, ServeOptions, parse_request, split_query
from judgekit.rl.shaping import Shaping
from judgekit.testing import Faults
from tests.helpers import BUNDLED_RUBRICS, CLI, FAILING_JUDGES, ROOT, RUBRICS, free_port

RUBRIC_YAML = """\
name: serve-test
criteria:
  - id: polite
    text: The response is polite.
    weight: 2
  - id: correct
    text: The response is correct.
    weight: 2
  - id: short
    kind: check
    check: {type: max_words, value: 50}
"""


# The common chat templates: (templated prompt, what the model generates up to its end-of-turn token).
TEMPLATES = {
    "gemma": ("<bos><start_of_turn>user\nQ<end_of_turn>\n<start_of_turn>model\n", "polite correct<end_of_turn>"),
    "qwen": ("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n", "polite correct<|im_end|>"),
    "llama3": ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n", "polite correct<|eot_id|>"),
    "mistral": ("<s>[INST] Q [/INST]", " polite correct</s>"),
}


def test_split_query_cases():
    assert split_query("<|user|>hi<|assistant|>hello<|endoftext|>", "<|user|>hi<|assistant|>") == "hello"
    # a BOS token before the prompt in the decoded query
    assert split_query("<s><|user|>hi<|assistant|> hello </s>", "<|user|>hi<|assistant|>") == "hello"
    assert split_query("no prompt here", "something else") == "no prompt here"
    assert split_query("whole text<|im_end|><|endoftext|>", None) == "whole text"
    for name, (prompt, generated) in TEMPLATES.items():
        assert split_query(prompt + generated, prompt) == "polite correct", name
        assert split_query(prompt + generated + "\n", prompt) == "polite correct", name
    # only markup at the end goes: the same token inside the response stays
    assert split_query("a <end_of_turn> b<end_of_turn>\n<eos>", None) == "a <end_of_turn> b"


def test_parse_request_problems():
    assert parse_request({"query": ["a"], "prompts": ["p"], "labels": [None]}, 10) == (["a"], ["p"], [None])
    for body, status in [([1], 400), ({"query": "a"}, 422), ({"query": ["a"], "prompts": ["p", "q"]}, 422),
                         ({"query": ["a"], "labels": []}, 422), ({"query": ["a"] * 11}, 413)]:
        with pytest.raises(RequestProblem) as info:
            parse_request(body, 10)
        assert info.value.status == status


def http(method: str, url: str, body: bytes | None = None, ctype: str = "application/json") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except json.JSONDecodeError:
            return exc.code, {"raw": raw.decode("utf-8", "replace")}


@contextlib.contextmanager
def serving(rubric: Path, judge_url: str, *options: str):
    """`judgekit serve` in a subprocess, as a user starts it; yields its root URL."""
    with serving_with("--rubric", str(rubric), "--judge", "openai:scripted", "--base-url", judge_url, "--no-cache",
                      *options) as url:
        yield url


@contextlib.contextmanager
def serving_with(*arguments: str):
    """`judgekit serve ARGUMENTS` in a subprocess on a free port, once it answers /health; yields its root URL."""
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *arguments],
        env={**os.environ, "OPENAI_API_KEY": "sk-test"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if http("GET", url + "/health")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("reward server did not start: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def reward_server(judge_server, tmp_path: Path):
    judge_server.state.script.met = lambda cid, response: cid in response
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    with serving(rubric, judge_server.base_url, "--max-body-mb", "0.01") as url:
        yield url


def test_openrlhf_contract(reward_server, judge_server):
    status, health = http("GET", reward_server + "/health")
    assert status == 200 and health["status"] == "ok" and health["criteria"] == ["polite", "correct", "short"]
    prompts = ["<|user|>Q1<|assistant|>", "<|user|>Q2<|assistant|>", "<|user|>Q3<|assistant|>"]
    responses = ["polite correct", "polite", "rude"]
    body = {"query": [p + r + "<|endoftext|>" for p, r in zip(prompts, responses)], "prompts": prompts,
            "labels": ["ref1", "", None]}
    for path in ("/", "/get_reward"):
        status, out = http("POST", reward_server + path, json.dumps(body).encode())
        assert status == 200, out
        assert out["rewards"] == pytest.approx([1.0, 0.6, 0.2])
        assert out["scores"] == pytest.approx([1.0, 0.6, 0.2])
        assert out["extra_logs"]["judgekit/polite"] == [1.0, 1.0, 0.0]
        assert out["extra_logs"]["judgekit/scored"] == [1.0, 1.0, 1.0]
    # the judge saw the response without the prompt or the end-of-text token, and the label as reference
    texts = [m["content"] for req in judge_server.state.requests for m in req["messages"] if m["role"] == "user"]
    assert any("ref1" in t for t in texts)
    assert not any("polite correct<|endoftext|>" in t for t in texts)


def test_malformed_requests_get_clear_4xx_json(reward_server):
    cases = [
        (b"{not json", "application/json", 400),
        (json.dumps([1, 2]).encode(), "application/json", 400),
        (json.dumps({"prompts": ["x"]}).encode(), "application/json", 422),
        (json.dumps({"query": ["a"], "prompts": ["a", "b"]}).encode(), "application/json", 422),
        (json.dumps({"query": ["a"]}).encode(), "text/plain", 415),
        (json.dumps({"query": ["x" * 20000]}).encode(), "application/json", 413),  # over --max-body-mb 0.01
    ]
    for body, ctype, expected in cases:
        status, out = http("POST", reward_server + "/get_reward", body, ctype)
        assert status == expected, (body[:40], out)
        assert out["error"]["status"] == expected and out["error"]["message"]
    assert http("GET", reward_server + "/get_reward")[0] == 405


def test_unscorable_gets_the_configured_number(judge_server, tmp_path):
    import asyncio

    import judgekit
    from judgekit.rl.rewards import RewardScorer
    from judgekit.rl.serve import ServeOptions, reward_response
    from judgekit.rubric.models import load_rubric

    judge_server.state.faults = Faults(server_error=1.0)
    judge_server.state.__post_init__()
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML.split("  - id: short")[0])
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, api_key="sk-test", cache=False, max_attempts=1) as j:
        scorer = RewardScorer(load_rubric(rubric), j)
        out = asyncio.run(reward_response(scorer, ServeOptions(unscored_reward=-1.0), ["p a"], ["p"], None))
    assert out["rewards"] == [-1.0] and out["scores"] == [-1.0]
    assert out["extra_logs"]["judgekit/scored"] == [0.0]


# ---- a failing judge never earns a reward (the coverage rule) --------------------------------------

def _fail_with(server, faults: Faults) -> None:
    server.state.faults = faults
    server.state.__post_init__()  # re-seed the fault draws


def _post(url: str, body: dict, timeout: float = 30) -> tuple[int, dict, float]:
    started = time.monotonic()
    req = urllib.request.Request(url + "/get_reward", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read()), time.monotonic() - started


@pytest.mark.parametrize("rubric_name", BUNDLED_RUBRICS)
def test_failing_or_hanging_judge_gets_the_unscored_value_on_every_bundled_rubric(judge_server, rubric_name):
    body = {"query": ["Q 42", "Q {\"answer\": 42}"], "prompts": ["Q", "Q"], "labels": ["42", "42"]}
    with serving(RUBRICS / rubric_name, judge_server.base_url, "--timeout", "0.5", "--max-attempts", "1",
                 "--unscored-reward", "-1", "--request-timeout", "10") as url:
        for faults in FAILING_JUDGES.values():
            _fail_with(judge_server, faults)
            status, out, _ = _post(url, body)
            assert status == 200, out
            assert out["rewards"] == [-1.0, -1.0] and out["scores"] == [-1.0, -1.0], out
            logs = out["extra_logs"]
            assert logs["judgekit/scored"] == [0.0, 0.0] and logs["judgekit/unscored"] == [1.0, 1.0]
            assert logs["judgekit/unscored_count"] == [2.0, 2.0]


def test_request_time_is_bounded_below_the_trainers_timeout(judge_server, tmp_path):
    """The judge holds every call for 5 s; each call may take 30 s; the request still answers in ~1.5 s."""
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    judge_server.state.script.met = lambda cid, response: True
    with serving(rubric, judge_server.base_url, "--timeout", "30", "--request-timeout", "1.5") as url:
        _fail_with(judge_server, Faults(slow=1.0, slow_seconds=5.0))
        status, out, seconds = _post(url, {"query": ["Q a", "Q b"], "prompts": ["Q", "Q"]})
        assert status == 200 and seconds < 4.0, (seconds, out)
        assert out["rewards"] == [0.0, 0.0] and out["extra_logs"]["judgekit/timed_out"] == [1.0, 1.0]
        assert out["extra_logs"]["judgekit/unscored_count"] == [2.0, 2.0]
        _fail_with(judge_server, Faults())  # the judge is back: the server was not stuck
        status, out, _ = _post(url, {"query": ["Q polite correct"], "prompts": ["Q"]})
        assert out["rewards"] == [1.0] and out["extra_logs"]["judgekit/timed_out"] == [0.0]


def test_malformed_bodies_get_a_json_400(reward_server):
    cases = [
        b"[" * 5000 + b"]" * 5000,  # nested deeper than the parser's recursion limit (within --max-body-mb)
        b'{"query": ["\\ud800"]}',  # a lone surrogate: not text
        b'{"query": ["ok"], "labels": [{"x": "\\udfff"}]}',
        b"\xff\xfe not utf-8",
    ]
    for body in cases:
        status, out = http("POST", reward_server + "/get_reward", body)
        assert status == 400, (body[:30], out)
        assert out["error"]["status"] == 400 and out["error"]["message"]


def test_bad_serve_options_are_exit_2(tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    # the last three need a prompt's group of responses; OpenRLHF sends one response per request
    for args, why in ((["--request-timeout", "0"], "not above 0"), (["--min-coverage", "2"], ""),
                      # nan passes every comparison: --clip nan,1 made every reward 1.0, --unscored-reward
                      # nan or inf made every unscored response a 500, --max-body-mb -1 refused every request
                      (["--clip", "nan,1"], "finite"), (["--clip", "0,inf"], "finite"),
                      (["--unscored-reward", "nan"], "finite"), (["--unscored-reward", "inf"], "finite"),
                      (["--veto-penalty", "-inf"], "finite"), (["--request-timeout", "inf"], "finite"),
                      (["--request-timeout", "nan"], "nan is not a finite number"),
                      (["--request-timeout", "90000"], "is above 86400"),
                      (["--max-body-mb", "-1"], "not above 0"), (["--max-body-mb", "nan"], "finite"),
                      (["--min-coverage", "nan"], "finite"), (["--timeout", "inf"], "finite"),
                      # no such options: they need a prompt's group, as round_robin does
                      (["--normalize"], "No such option"), (["--length-debias"], "No such option"),
                      (["--strategy", "round_robin"], "one response per request")):
        proc = subprocess.run([*CLI, "serve", "--rubric", str(rubric), "--judge", "openai:m",
                               "--base-url", "http://127.0.0.1:9/v1", *args],
                              capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "OPENAI_API_KEY": "sk-test"}, timeout=60)
        assert proc.returncode == 2 and args[0] in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert why in " ".join(proc.stderr.split()), proc.stderr


def test_build_app_refuses_group_options_too(judge_server):
    import judgekit
    from judgekit.errors import InputError
    from judgekit.rl.serve import build_app

    rubric = judgekit.rubric_from_data({"name": "r", "criteria": [{"id": "a", "text": "A"}]})
    with judgekit.Judge("openai:scripted", base_url=judge_server.base_url, cache=False) as judge:
        for shaping, strategy in ((Shaping(normalize=True), "pointwise"), (Shaping(length_debias=True), "pointwise"),
                                  (None, "round_robin")):
            with pytest.raises(InputError, match="one response per request"):
                build_app(rubric, judge, shaping=shaping, strategy=strategy)
        build_app(rubric, judge, shaping=Shaping(clip=(0.0, 1.0), veto_penalty=-1.0), strategy="anchor")


@pytest.mark.parametrize(("make", "argument"), [
    (lambda: Shaping(clip=(float("nan"), 1.0)), "clip"),
    (lambda: Shaping(clip=(0.0, float("inf"))), "clip"),
    (lambda: Shaping(clip=(1.0, 0.0)), "clip"),
    (lambda: Shaping(veto_penalty=float("nan")), "veto_penalty"),
    (lambda: ServeOptions(unscored_reward=float("nan")), "unscored_reward"),
    (lambda: ServeOptions(unscored_reward=float("-inf")), "unscored_reward"),
    (lambda: ServeOptions(request_timeout=float("inf")), "request_timeout"),
    (lambda: ServeOptions(max_bytes=-1), "max_bytes"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_python_shaping_and_serve_options_refuse_nonsense_naming_the_argument(make, argument):
    from judgekit.errors import InputError

    with pytest.raises(InputError) as info:
        make()
    assert info.value.field == argument


def test_anchor_judges_against_the_label_and_leaves_an_unlabelled_response_unscored(judge_server, tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    def rank(text: str) -> int:
        return ("polite" in text) - ("rude" in text)

    judge_server.state.script.prefer = lambda cid, a, b: "A" if rank(a) > rank(b) else "B" if rank(b) > rank(a) else "tie"
    with serving(rubric, judge_server.base_url, "--strategy", "anchor") as url:
        _, out, _ = _post(url, {"query": ["Q polite", "Q rude", "Q polite too"], "prompts": ["Q"] * 3,
                                "labels": ["a reference", "a reference", ""]})
    rewards, logs = out["rewards"], out["extra_logs"]
    assert rewards[0] > 0.5 > rewards[1] and rewards[2] == 0.0, out  # never the 0.5 of a tie with itself
    assert logs["judgekit/unscored"] == [0.0, 0.0, 1.0] and logs["judgekit/unscored_count"] == [1.0] * 3
    # the unlabelled response cost no judge call
    assert judge_server.state.requests and "polite too" not in json.dumps(judge_server.state.requests)


# ---- OpenRLHF's own request code (0.11.2) --------------------------------------------------------

def _chat_tokenizer():
    """A character-level tokenizer that knows the special tokens of the common chat templates, built in code."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = sorted({tok for prompt, generated in TEMPLATES.values() for tok in re.findall(r"<[^<>\s]+>", prompt + generated)})
    specials = ["<pad>", "<unk>"] + [t for t in specials if t not in ("<pad>", "<unk>")]
    vocab = {tok: i for i, tok in enumerate(specials + [c for c in string.printable if c not in "\r\x0b\x0c"])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>",
                                   additional_special_tokens=specials[2:])


class _Generator:
    """Stands in for the vLLM engine OpenRLHF's executor generates with: it answers with fixed token ids."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = token_ids

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=self.token_ids, finish_reason="stop", logprobs=None)])


def test_openrlhf_single_turn_executor_gets_its_reward_from_serve(judge_server, tmp_path):
    """OpenRLHF 0.11.2's SingleTurnAgentExecutor (its decode with special tokens kept, its request
    and retry code, its reading of the answer) against `judgekit serve` over HTTP: the response
    judged is the generation without the template's end-of-turn token, for each common template."""
    agent = pytest.importorskip("openrlhf.utils.agent", reason="pip install --no-deps openrlhf==0.11.2 pylatexenc==2.11")
    import asyncio

    # MET only for a response judged without any markup left on it
    judge_server.state.script.met = lambda cid, response: cid in response and "<" not in response
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    tokenizer = _chat_tokenizer()
    params = SimpleNamespace(max_tokens=32, logprobs=None)
    with serving(rubric, judge_server.base_url) as url:
        executor = agent.SingleTurnAgentExecutor(url + "/get_reward")
        for name, (prompt, generated) in TEMPLATES.items():
            engine = _Generator(tokenizer(text=generated, add_special_tokens=False)["input_ids"])
            out = asyncio.run(executor.execute(prompt, "a reference", params, 128, tokenizer, engine))
            assert out["reward"] == [1.0] and out["scores"] == [1.0], (name, out)
            assert out["extra_logs"]["judgekit/scored"] == [1.0] and out["extra_logs"]["judgekit/polite"] == [1.0]
        # a failing judge: the request still answers, with the unscored value, flagged in extra_logs
        _fail_with(judge_server, Faults(server_error=1.0))
        prompt, generated = TEMPLATES["gemma"]
        engine = _Generator(tokenizer(text=generated, add_special_tokens=False)["input_ids"])
        out = asyncio.run(executor.execute(prompt, None, params, 128, tokenizer, engine))
        assert out["reward"] == [0.0] and out["extra_logs"]["judgekit/unscored"] == [1.0], out
        assert out["extra_logs"]["judgekit/unscored_count"] == [1.0]


def test_the_openrlhf_options_the_docs_give_are_those_of_its_parser():
    """The options docs/rl.md tells an OpenRLHF user to pass exist in OpenRLHF 0.11.2's training CLI
    (read from its source: importing it needs torch and a GPU stack)."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps openrlhf==0.11.2 pylatexenc==2.11")
    parser = (Path(spec.submodule_search_locations[0]) / "cli" / "train_ppo_ray.py").read_text()
    section = (ROOT / "docs" / "rl.md").read_text().split("## OpenRLHF")[1]
    dotted = set(re.findall(r"`(--(?:reward|data)\.\w+)", section))
    assert {"--reward.remote_url", "--data.label_key"} <= dotted
    for flag in dotted:
        assert f'add_argument("{flag}"' in parser, flag


def test_canaries_an_audit_and_dropout_through_the_http_endpoint(judge_server, tmp_path):
    from judgekit.testing import ScriptedJudgeServer, ServerState
    from judgekit.testing.server import probe_script

    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML.split("  - id: short")[0])  # a short-reply check would reward every short attack
    body = {"query": ["Q polite 42", "Q :"], "prompts": ["Q", "Q"]}
    guards = ("--canary-rate", "1", "--canary-families", "master-key,refusal", "--rubric-dropout", "0.5")
    with ScriptedJudgeServer(ServerState(script=probe_script(None, lambda r: "42" in r))) as audit_server:
        judge_server.state.script = probe_script("content-free", lambda r: "42" in r)
        with serving(rubric, judge_server.base_url, *guards, "--audit-judge", "openai:scripted", "--audit-base-url",
                     audit_server.base_url, "--audit-rate", "1") as url:
            _, seen, _ = _post(url, body)
        with serving(rubric, judge_server.base_url, *guards, "--canary-max-fpr", "0.5", "--unscored-reward", "-1") as url:
            _, masked, _ = _post(url, body)
        judge_server.state.script = probe_script(None, lambda r: "42" in r)
        with serving(rubric, judge_server.base_url, *guards, "--canary-max-fpr", "0.5") as url:
            _, honest, _ = _post(url, body)
    logs = seen["extra_logs"]
    assert logs["judgekit/canary_fpr/master-key"] == [1.0, 1.0] and logs["judgekit/canary_fpr/refusal"] == [0.0, 0.0]
    assert logs["judgekit/audit_n"] == [2.0, 2.0] and logs["judgekit/audit_reward_gap"][0] > 0  # ":" fools only the trained judge
    assert 0 < logs["judgekit/rubric_dropout/kept"][0] < 1
    assert seen["scores"][1] > 0  # the weak judge's reward for ":" stands (canaries only measure; no bar given)
    assert masked["rewards"] == masked["scores"] == [-1.0, -1.0] and masked["extra_logs"]["judgekit/canary_masked"] == [1.0, 1.0]
    assert honest["extra_logs"]["judgekit/canary_fpr/master-key"] == [0.0, 0.0] and honest["scores"][0] > 0 == honest["scores"][1]


def test_bad_guard_flags_are_exit_2_naming_them(tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(RUBRIC_YAML)
    for args, why in ((["--canary-rate", "2"], "is above 1"), (["--audit-rate", "-0.5"], "is below 0"),
                      (["--canary-families", "master-key,nope"], "--canary-families': unknown canary family 'nope'"),
                      (["--audit-rate", "0.5"], "--audit-judge"), (["--audit-base-url", "http://127.0.0.1:9/v1"], "")):
        proc = subprocess.run([*CLI, "serve", "--rubric", str(rubric), "--judge", "openai:m",
                               "--base-url", "http://127.0.0.1:9/v1", *args],
                              capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "OPENAI_API_KEY": "sk-test"}, timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert why in " ".join(proc.stderr.split()), proc.stderr
