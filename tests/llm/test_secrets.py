"""Keys never leak: a judge that echoes the caller's key back (in its reasoning, its thinking, its
reasoning field, its error bodies, at every offset around where messages are cut) never gets
that key, or any 8-character piece of it, into output rows, the cache file, stdout/stderr,
reports or error messages."""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
import urllib.parse
from pathlib import Path

import pytest

from judgekit import Judge, load_rubric
from judgekit.secrets import KEY_ENV_VARS, MIN_PREFIX, clip, redact, redact_tree, register_secret, register_url, shown_url
from judgekit.testing import Faults, Script, ScriptedJudgeServer, ServerState
from tests.helpers import run_cli

ECHOES = ["reasoning", "think", "reasoning_field", "error"]
OFFSETS = list(range(0, 601))  # error messages are cut at about 300 characters
ONE_CRITERION = "name: t\ncriteria:\n  - id: a\n    text: Says yes.\n"


def new_key() -> str:
    """A fresh key per test: redaction only knows keys it was told about, and the first 8
    characters differ from every other test's key."""
    return f"sk-{random_secrets.token_hex(3)}-SECRETCANARY-{random_secrets.token_hex(12)}"


def assert_no_key(key: str, **blobs: str) -> None:
    for where, blob in blobs.items():
        for piece in (key[:MIN_PREFIX], key[len(key) // 2:]):
            at = blob.find(piece)
            assert at < 0, f"{piece!r} reached {where}: ...{blob[max(0, at - 80):at + 80]!r}..."


def files_text(folder: Path) -> str:
    """Every byte of every file under `folder` (the SQLite file, its WAL), as text."""
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(folder.rglob("*")) if p.is_file())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def score_input(tmp_path: Path, n: int) -> Path:
    return write(tmp_path / "in.jsonl", "".join(json.dumps({"id": i, "prompt": "q", "response": f"answer {i}"}) + "\n"
                                                for i in range(n)))


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


# ---- the redaction rules ---------------------------------------------------------------------------


def test_a_key_cut_anywhere_leaves_no_8_character_prefix(no_key_env: None) -> None:
    key = new_key()
    register_secret(key)
    text = f"HTTP 401: the request carried Authorization: Bearer {key} (as received)"
    for cut in range(len(text) + 1):
        assert_no_key(key, clip=clip(text, cut), redact_then_cut=redact(text)[:cut], cut_then_redact=redact(text[:cut]))
    assert redact(f"x {key} y") == "x *** y"
    assert redact(f"{key[:MIN_PREFIX - 1]}") == key[:MIN_PREFIX - 1]  # shorter than a prefix: kept
    assert redact_tree({"c": [key, (f"a{key}",)], "n": 1}) == {"c": ["***", ("a***",)], "n": 1}
    # Keys and identifiers are structure, kept as written: a secret may be a word or a criterion's id.
    assert redact_tree({key: {"id": key, "value": key, "reasoning": key}}) == {key: {"id": key, "value": key, "reasoning": "***"}}


def test_clip_redacts_before_it_cuts_a_key_at_every_offset_around_the_cut(no_key_env: None) -> None:
    key = new_key()
    register_secret(key)
    limit = 100
    # From the key ending well before the cut to starting after it: every cut through the key
    # (leaving 1 to len(key) - 1 of its characters) included.
    for offset in range(limit - len(key) - 2, limit + 2):
        text = "x" * offset + key + " tail"
        assert clip(text, limit) == ("x" * offset + "*** tail")[:limit], offset


def test_any_bearer_token_is_redacted_but_prose_is_not() -> None:
    assert redact("sent with Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc123") == "sent with Bearer ***"
    assert redact("the Bearer of this letter is welcome") == "the Bearer of this letter is welcome"


def test_a_key_changed_in_the_environment_is_redacted_from_the_next_text_on(
    monkeypatch: pytest.MonkeyPatch, no_key_env: None,
) -> None:
    first, second, third = new_key(), new_key(), new_key()
    monkeypatch.setenv("OPENAI_API_KEY", first)
    assert redact(f"a {first}") == "a ***"
    monkeypatch.setenv("OPENAI_API_KEY", second)  # the same variable, another value
    assert redact(f"b {second}") == "b ***"
    for name in KEY_ENV_VARS[1:]:  # each variable on its own, the others unchanged
        monkeypatch.setenv(name, third)
        assert redact(f"c {third}") == "c ***", name
        monkeypatch.delenv(name)
        assert redact(f"d {third}") == f"d {third}", name  # a key no longer set is no longer a key


def test_a_key_from_the_environment_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    assert redact(f"x-api-key: {key[:20]}") == "x-api-key: ***"


# ---- the CLI, key from the environment ---------------------------------------------------------------


@pytest.mark.parametrize("echo", ECHOES)
def test_score_keeps_an_echoed_key_out_of_rows_cache_and_logs(tmp_path: Path, echo: str) -> None:
    key = new_key()
    rubric = write(tmp_path / "r.yaml", ONE_CRITERION)
    data = score_input(tmp_path, len(OFFSETS))
    out, cache = tmp_path / "o.jsonl", tmp_path / "cache"
    state = ServerState(echo=echo, echo_offsets=OFFSETS, record=False)
    with ScriptedJudgeServer(state) as server:
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", server.base_url,
                       "--explain", "--concurrency", "16", "--max-attempts", "1", "--cache-dir", str(cache), "-o", str(out),
                       env={"OPENAI_API_KEY": key})
    assert state.echoes == len(OFFSETS)  # the key was echoed once at every offset
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(OFFSETS)
    if echo == "error":
        assert proc.returncode == 1, proc.stderr
        assert all("HTTP 401" in r["unscored"]["a"] for r in rows)
    else:
        assert proc.returncode == 0, proc.stderr
        shown = "explanations" if echo == "reasoning" else "thinking"
        assert all("Bearer *** (as received)" in r[shown]["a"] for r in rows)  # the echo reached the row, redacted
    assert_no_key(key, output=out.read_text(), stdout=proc.stdout, stderr=proc.stderr, cache=files_text(cache))


def test_eval_report_keeps_an_echoed_key_out(tmp_path: Path) -> None:
    key = new_key()
    pairs = [{"input": f"Question {i}?", "output_1": f"good {i}", "output_2": f"bad {i}", "label": 1} for i in range(50)]
    data = write(tmp_path / "natural.json", json.dumps(pairs))
    rubric = write(tmp_path / "r.yaml", ONE_CRITERION)
    for echo in ("error", "reasoning"):
        report = tmp_path / f"{echo}.json"
        state = ServerState(echo=echo, echo_offsets=list(range(200, 400, 2)), record=False)
        with ScriptedJudgeServer(state) as server:
            proc = run_cli("eval", str(data), "--format", "llmbar", "--rubric", str(rubric), "--judge", "openai:m",
                           "--base-url", server.base_url, "--max-attempts", "1", "--cache-dir", str(tmp_path / "cache"),
                           "-o", str(report), env={"OPENAI_API_KEY": key})
        assert state.echoes == 100, proc.stderr
        assert proc.returncode == (1 if echo == "error" else 0), proc.stderr
        pairs = tmp_path / f"{echo}.pairs.jsonl"  # the pairs' records, beside the report
        if echo == "error":
            assert "HTTP 401" in pairs.read_text()  # the reasons are in the pairs' records
        assert_no_key(key, report=report.read_text(), pairs=pairs.read_text(), stdout=proc.stdout, stderr=proc.stderr,
                      cache=files_text(tmp_path / "cache"))


def test_rubric_generate_keeps_a_key_out_of_criteria_rows_and_messages(tmp_path: Path) -> None:
    key = new_key()
    data = write(tmp_path / "d.jsonl", "".join(json.dumps({"id": i, "prompt": f"Question {i}?"}) + "\n" for i in range(3)))
    state = ServerState(record=False)
    state.script.generate = lambda body: {"criteria": [
        {"id": "secret", "text": f"The response never prints Bearer {key} or {key[:12]} again.", "kind": "principle"}]}
    env = {"OPENAI_API_KEY": key}
    with ScriptedJudgeServer(state) as server:
        common = ("--judge", "openai:m", "--base-url", server.base_url, "--cache-dir", str(tmp_path / "cache"))
        one = run_cli("rubric", "generate", "--data", str(data), "-o", str(tmp_path / "r.yaml"), *common, env=env)
        per_row = run_cli("rubric", "generate", "--data", str(data), "--per-prompt", "-o", str(tmp_path / "rows.jsonl"),
                          *common, env=env)
        state.echo, state.echo_offsets = "error", list(range(240, 320))
        failed = run_cli("rubric", "generate", "--data", str(data), "--per-prompt", "-o", str(tmp_path / "failed.jsonl"),
                         *common, "--no-cache", env=env)
    assert one.returncode == 0 and per_row.returncode == 0, one.stderr + per_row.stderr
    assert "never prints Bearer ***" in load_rubric(tmp_path / "r.yaml").criteria[0].text
    assert failed.returncode == 1 and "HTTP 401" in (tmp_path / "failed.jsonl").read_text(), failed.stderr
    assert_no_key(key, rubric=(tmp_path / "r.yaml").read_text(), rows=(tmp_path / "rows.jsonl").read_text(),
                  failed_rows=(tmp_path / "failed.jsonl").read_text(), cache=files_text(tmp_path / "cache"),
                  stderr=one.stderr + per_row.stderr + failed.stderr, stdout=one.stdout + per_row.stdout + failed.stdout)


# ---- the Python API, key given in code -----------------------------------------------------------------


API_CASES = [("openai", echo) for echo in ECHOES] + [("anthropic", "reasoning"), ("anthropic", "error")]


@pytest.mark.parametrize("backend,echo", API_CASES)
def test_a_key_given_in_code_is_redacted(tmp_path: Path, no_key_env: None, backend: str, echo: str) -> None:
    key = new_key()
    rubric = load_rubric(write(tmp_path / "r.yaml", ONE_CRITERION))
    rows = [{"id": i, "prompt": "q", "response": f"answer {i}"} for i in OFFSETS]
    state = ServerState(echo=echo, echo_offsets=OFFSETS, record=False)
    with ScriptedJudgeServer(state) as server:
        url = server.base_url if backend == "openai" else server.root_url
        with Judge(f"{backend}:m", base_url=url, api_key=key, cache_dir=str(tmp_path / "cache"), concurrency=16,
                   max_attempts=1) as judge:
            results = judge.score(rows, rubric, explain=True)
    assert state.echoes == len(OFFSETS)
    dumped = json.dumps([r.model_dump() for r in results])
    assert ("HTTP 401" if echo == "error" else "Bearer ***") in dumped
    assert_no_key(key, results=dumped, cache=files_text(tmp_path / "cache"))


def test_a_key_in_an_old_cache_entry_is_redacted_when_read_back(tmp_path: Path, no_key_env: None) -> None:
    key = new_key()
    rubric = load_rubric(write(tmp_path / "r.yaml", ONE_CRITERION))
    rows = [{"id": 1, "prompt": "q", "response": "yes"}]
    cache = str(tmp_path / "cache")
    # A server that put a key judgekit did not know into its reasoning: the cache keeps it ...
    state = ServerState(script=Script(reasoning=f"the key {key} was used"), record=False)
    with ScriptedJudgeServer(state) as server:
        with Judge("openai:m", base_url=server.base_url, api_key="sk-other-0000", cache_dir=cache) as judge:
            judge.score(rows, rubric)
        assert key in files_text(tmp_path / "cache")
        # ... and once the key is known, what the cache gives back is redacted.
        with Judge("openai:m", base_url=server.base_url, api_key=key, cache_dir=cache) as judge:
            again = judge.score(rows, rubric, explain=True)
            assert judge.stats.cache_hits == 1
    assert again[0].explanations == {"a": "the key *** was used"}


# ---- credentials in a server URL ------------------------------------------------------------------


USER = "judge-user"


def new_password() -> str:
    return f"PW{random_secrets.token_hex(8)}@x"  # '@' is written %40 in the URL


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{urllib.parse.quote(password, safe='')}@")


def assert_no_credentials(user: str, password: str, **blobs: str) -> None:
    """Neither the password (as written in the URL or decoded, or its first 8 characters) nor the
    Basic header sent for it (or its first 8 characters) anywhere."""
    header = base64.b64encode(f"{user}:{password}".encode()).decode()
    pieces = (password, urllib.parse.quote(password, safe=""), password[:MIN_PREFIX], header, header[-MIN_PREFIX:])
    for where, blob in blobs.items():
        for piece in pieces:
            at = blob.find(piece)
            assert at < 0, f"{piece!r} reached {where}: ...{blob[max(0, at - 80):at + 80]!r}..."


def test_url_credentials_are_secrets_in_every_form(no_key_env: None) -> None:
    password = new_password()
    url = with_credentials("http://127.0.0.1:8000/v1", USER, password)
    register_url(url)
    header = base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert shown_url(url) == f"http://{USER}:***@127.0.0.1:8000/v1"
    assert shown_url("https://TOKEN123@host/v1?a=b@c") == "https://***@host/v1?a=b@c"  # a token as user name
    for text in (f"pw {password} end", f"url {url}", f"Authorization: Basic {header}", f"sent {header} and {header[:9]}"):
        assert_no_credentials(USER, password, text=redact(text))
    other = base64.b64encode(b"someone:else").decode()  # credentials judgekit never sent
    assert redact(f"sent Basic {other}.") == "sent Basic ***."
    assert redact('{"authorization": "Token abc.def"}') == '{"authorization": "***"}'
    assert redact("Basic questions come first") == "Basic questions come first"


@pytest.mark.parametrize("echo", ECHOES)
def test_url_credentials_stay_out_of_rows_stderr_and_cache(tmp_path: Path, no_key_env: None, echo: str) -> None:
    password = new_password()
    rubric = write(tmp_path / "r.yaml", ONE_CRITERION)
    data, out, cache = score_input(tmp_path, 40), tmp_path / "o.jsonl", tmp_path / "cache"
    # The server echoes the Authorization header it got (Basic, from the URL) about where texts are cut.
    state = ServerState(echo=echo, echo_offsets=list(range(280, 320)), record=False)
    with ScriptedJudgeServer(state) as server:
        url = with_credentials(server.base_url, USER, password)
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", url, "--explain",
                       "--max-attempts", "1", "--cache-dir", str(cache), "-o", str(out))
    assert state.echoes == 40
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    if echo == "error":
        assert proc.returncode == 1, proc.stderr
        assert all("HTTP 401" in r["unscored"]["a"] for r in rows)
        assert f"{USER}:***@127.0.0.1:{server.port}/v1: HTTP 401" in proc.stderr  # the reason, the URL masked
    else:
        assert proc.returncode == 0, proc.stderr
        shown = "explanations" if echo == "reasoning" else "thinking"
        assert all("Basic *** (as received)" in r[shown]["a"] for r in rows)  # the echo reached the row, redacted
    assert_no_credentials(USER, password, output=out.read_text(), stdout=proc.stdout, stderr=proc.stderr,
                          cache=files_text(cache))


def test_url_credentials_stay_out_when_several_servers_fail_and_are_set_aside(tmp_path: Path, no_key_env: None) -> None:
    logins = [("ops-a", new_password()), ("ops-b", new_password())]
    rubric = write(tmp_path / "r.yaml", ONE_CRITERION)
    data, out, cache = score_input(tmp_path, 12), tmp_path / "o.jsonl", tmp_path / "cache"
    # Both answer 500 with the Authorization header they got in the error body.
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0), record=False)) as one, \
            ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0), record=False)) as two:
        urls = [with_credentials(s.base_url, user, password) for s, (user, password) in zip((one, two), logins)]
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", urls[0],
                       "--base-url", urls[1], "--max-attempts", "4", "--cache-dir", str(cache), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    written = out.read_text()
    assert "every judge server is set aside after failing" in written and "internal error for Basic ***" in written
    for server, (user, password) in zip((one, two), logins):
        assert f"server http://{user}:***@127.0.0.1:{server.port}/v1:" in proc.stderr  # the summary names it, masked
        assert_no_credentials(user, password, output=written, stdout=proc.stdout, stderr=proc.stderr, cache=files_text(cache))


# A password that is also a word of the judge's reply (`true`), a key of its JSON (`verdicts`) or a
# criterion id (`concise`): redaction of free text must never reach what is parsed or the row's keys.
WORDLIKE_RUBRIC = "name: t\ncriteria:\n  - id: a\n    text: Says yes.\n  - id: concise\n    text: Is short.\n"


@pytest.mark.parametrize("password", ["true", "verdicts", "concise"])
def test_a_word_like_url_password_never_changes_what_is_parsed_or_the_rows_keys(
        tmp_path: Path, no_key_env: None, password: str) -> None:
    rubric = write(tmp_path / "r.yaml", WORDLIKE_RUBRIC)
    data, out, cache = score_input(tmp_path, 4), tmp_path / "o.jsonl", tmp_path / "cache"
    # The judge says MET, and its reasoning holds the password: the free text is redacted, the verdict kept.
    state = ServerState(script=Script(reasoning=f"it is {password}, as said"), record=False)
    with ScriptedJudgeServer(state) as server:
        url = with_credentials(server.base_url, USER, password)
        args = ("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", url, "--explain",
                "--cache-dir", str(cache), "-o", str(out))
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        calls = state.count
        again = run_cli(*args[:-1], str(tmp_path / "again.jsonl"))  # from the cache: the same rows
        assert again.returncode == 0 and state.count == calls, again.stderr
    assert calls == 4 * 2  # one call per criterion: no re-ask
    for written in (out, tmp_path / "again.jsonl"):
        rows = [json.loads(line) for line in written.read_text().splitlines()]
        assert [r["reward"] for r in rows] == [1.0] * 4
        assert all(set(r["scores"]) == {"a", "concise"} and r["unscored"] == {} for r in rows)
        assert all(r["explanations"] == {"a": "it is ***, as said", "concise": "it is ***, as said"} for r in rows)
    blobs = {"output": out.read_text(), "again": (tmp_path / "again.jsonl").read_text(), "stderr": proc.stderr,
             "stdout": proc.stdout, "cache": files_text(cache)}
    # The word itself is legitimately there as structure (JSON's true, a criterion id): the password as
    # the judge's text held it, and the header sent for it, are not.
    header = base64.b64encode(f"{USER}:{password}".encode()).decode()
    for where, blob in blobs.items():
        assert f"it is {password}" not in blob and header not in blob and header[-MIN_PREFIX:] not in blob, where



def test_a_token_as_user_name_with_an_empty_password_is_masked_and_kept_out(tmp_path: Path, no_key_env: None) -> None:
    token = f"sk-live-{random_secrets.token_hex(10)}"  # `-u KEY:` as Stripe-style APIs take it
    assert shown_url(f"http://{token}:@host/v1") == "http://***@host/v1"
    rubric = write(tmp_path / "r.yaml", ONE_CRITERION)
    data, out, cache = score_input(tmp_path, 8), tmp_path / "o.jsonl", tmp_path / "cache"
    with ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0), record=False)) as one, \
            ScriptedJudgeServer(ServerState(faults=Faults(server_error=1.0), record=False)) as two:
        urls = [s.base_url.replace("http://", f"http://{token}:@") for s in (one, two)]
        proc = run_cli("score", str(data), "--rubric", str(rubric), "--judge", "openai:m", "--base-url", urls[0],
                       "--base-url", urls[1], "--max-attempts", "4", "--cache-dir", str(cache), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert f"server http://***@127.0.0.1:{one.port}/v1:" in proc.stderr, proc.stderr
    assert_no_key(token, output=out.read_text(), stdout=proc.stdout, stderr=proc.stderr, cache=files_text(cache))
