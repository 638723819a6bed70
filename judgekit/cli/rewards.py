"""`judgekit serve`: the rubric's rewards over HTTP, for OpenRLHF."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.markup import escape

from judgekit.cli.common import err
from judgekit.cli.options import (
    IO_PANEL,
    LIMITS_PANEL,
    SCORING_PANEL,
    JudgeOptions,
    number_option,
    strategy_option,
    with_judge_options,
)
from judgekit.errors import InputError
from judgekit.judge import JudgeSpec
from judgekit.judging.ranking import check_strategy
from judgekit.panel import load_panel
from judgekit.rl.options import GUARD_OPTIONS, guard_options
from judgekit.rl.shaping import Shaping
from judgekit.rubric.meta import load_meta_rubric
from judgekit.rubric.models import load_rubric

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _audit_judge(spec: str | None, base_url: str | None) -> JudgeSpec | None:
    """--audit-judge: a panel YAML file, or a spec string (with --audit-base-url)."""
    if spec is None:
        if base_url is not None:
            raise InputError("--audit-base-url is the audit judge's server: give --audit-judge too", field="--audit-base-url")
        return None
    if spec.endswith((".yaml", ".yml")):
        return load_panel(Path(spec))
    return JudgeSpec(spec, base_url=base_url)


def _clip(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    low, sep, high = value.partition(",")
    try:
        bounds = (float(low), float(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not all(math.isfinite(b) for b in bounds) or bounds[0] > bounds[1]:
        raise InputError(f"--clip takes LOW,HIGH: two finite numbers, LOW <= HIGH (e.g. -1,1), got {value!r}", field="--clip")
    return bounds


@with_judge_options()
def serve(
    rubric: Path | None = typer.Option(None, "--rubric", "-r", help="rubric YAML (optional with --adaptive)",
                                       rich_help_panel=IO_PANEL),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (loopback by default)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    strategy: str = strategy_option("pointwise | anchor (each response against its label)"),
    clip: str | None = typer.Option(None, "--clip", help="clip rewards to LOW,HIGH (applied last)", rich_help_panel=SCORING_PANEL),
    veto_penalty: float | None = number_option(None, "--veto-penalty", help="reward for a hard-rule veto instead of 0",
                                               panel=SCORING_PANEL),
    unscored_reward: float = number_option(0.0, "--unscored-reward", help="number sent for a response without a reward",
                                           panel=SCORING_PANEL),
    par: bool = typer.Option(False, "--par", help="PAR shaping: sigmoid(reward - reference reward); the reference "
                             "is each request's label judged with the rubric, or --par-reference-reward",
                             rich_help_panel=SCORING_PANEL),
    par_reference_reward: float | None = number_option(None, "--par-reference-reward",
                                                       help="the reference reward PAR compares with (implies --par)",
                                                       panel=SCORING_PANEL),
    panel_reward: str = typer.Option("votes", "--panel-reward", help="a --panel's reward: votes (its verdicts "
                                     "aggregated) | mean_minus_std (each judge's reward, mean - K * std)",
                                     rich_help_panel=SCORING_PANEL),
    panel_k: float = number_option(1.0, "--panel-k", min=0, help="K of --panel-reward mean_minus_std", panel=SCORING_PANEL),
    adaptive: Path | None = typer.Option(None, "--adaptive", help="meta-rubric YAML (e.g. rubrics/meta/pairwise.yaml): "
                                         "with --strategy anchor, first write the criteria that separate each response "
                                         "from its label", rich_help_panel=SCORING_PANEL),
    request_timeout: float = number_option(150.0, "--request-timeout", above=0, max=86400,
        help="seconds a request's judging may take (OpenRLHF waits 180); "
        "unfinished responses are unscored", panel=LIMITS_PANEL,
    ),
    max_body_mb: float = number_option(16.0, "--max-body-mb", above=0, help="largest request body accepted (MB)",
                                       panel=LIMITS_PANEL),
    canary_rate: float = number_option(0.0, "--canary-rate", min=0, max=1, help="share of requests' prompts also judged "
                                       "with attack responses (false-positive rate per family in extra_logs)", panel=SCORING_PANEL),
    canary_families: str | None = typer.Option(None, "--canary-families", help="attack families the canaries use, "
                                               "comma-separated (default: all built-in)", rich_help_panel=SCORING_PANEL),
    canary_max_fpr: float | None = number_option(None, "--canary-max-fpr", min=0, max=1, help="mask a request's rewards "
                                                 "when a family's canary false-positive rate exceeds this", panel=SCORING_PANEL),
    audit_judge: str | None = typer.Option(None, "--audit-judge", help="a second judge (spec string, or a panel YAML "
                                           "file) that also judges --audit-rate of the responses", rich_help_panel=SCORING_PANEL),
    audit_base_url: str | None = typer.Option(None, "--audit-base-url", help="the audit judge's server",
                                              rich_help_panel=SCORING_PANEL),
    audit_rate: float = number_option(0.0, "--audit-rate", min=0, max=1, help="share of responses the audit judge also judges",
                                      panel=SCORING_PANEL),
    rubric_dropout: float = number_option(0.0, "--rubric-dropout", min=0, max=1, help="share of non-gate criteria left "
                                          "out per prompt", panel=SCORING_PANEL),
    guard_seed: int = typer.Option(0, "--guard-seed", help="seeds the canaries', audits' and dropout's choices",
                                   rich_help_panel=SCORING_PANEL),
    *,
    judge_options: JudgeOptions,
) -> None:
    """HTTP reward server for OpenRLHF (--reward.remote_url, before 0.10.2 --remote_rm_url:
    http://HOST:PORT/get_reward); GET /health."""
    from judgekit.rl.serve import OPENRLHF_TIMEOUT, ServeOptions, refuse_per_sample_misfits  # starlette: only to serve
    from judgekit.rl.serve import serve as run_server

    if rubric is None and adaptive is None:
        raise InputError("give --rubric R.yaml (or --adaptive META.yaml with --strategy anchor)", field="--rubric")
    if adaptive is not None and strategy != "anchor":
        raise InputError(f"--adaptive writes criteria for each compared pair: it needs --strategy anchor (each response "
                         f"against its label), not {strategy}", field="--adaptive")
    the_rubric = load_rubric(rubric) if rubric is not None else None
    meta = load_meta_rubric(adaptive) if adaptive is not None else None
    # No --normalize or --length-debias: they need a prompt's group, and OpenRLHF sends one response per request.
    shaping = Shaping(clip=_clip(clip), veto_penalty=veto_penalty)
    refuse_per_sample_misfits(strategy, shaping)
    if request_timeout >= OPENRLHF_TIMEOUT:
        err.print(f"[yellow]warning[/yellow]: --request-timeout {request_timeout:g} is not below OpenRLHF's "
                  f"{OPENRLHF_TIMEOUT:g} s client timeout: a slow judge makes it send the request again")
    try:
        options = ServeOptions(strategy=check_strategy(strategy), shaping=shaping, unscored_reward=unscored_reward,
                               max_bytes=math.ceil(max_body_mb * 1024 * 1024), request_timeout=request_timeout,
                               par=par or par_reference_reward is not None, par_reference_reward=par_reference_reward,
                               panel_reward=panel_reward, panel_k=panel_k,  # type: ignore[arg-type]  # checked by ServeOptions
                               adaptive=meta,
                               **guard_options({"canary_rate": canary_rate, "canary_families": canary_families,
                                                "canary_max_fpr": canary_max_fpr, "audit_rate": audit_rate,
                                                "audit_judge": _audit_judge(audit_judge, audit_base_url),
                                                "rubric_dropout": rubric_dropout, "guard_seed": guard_seed}))
    except InputError as exc:  # a guard option as the command line names it
        if exc.field in GUARD_OPTIONS:
            raise InputError(exc.message, field="--" + exc.field.replace("_", "-")) from None
        raise
    if host not in _LOOPBACK:
        err.print(f"[yellow]warning[/yellow]: listening on {escape(host)}: anyone who can reach it can spend your judge's budget")
    with judge_options.judge() as the_judge:
        what = f"rubric '{escape(the_rubric.name)}' ({len(the_rubric.criteria)} criteria)" if the_rubric else "no rubric"
        if meta is not None:
            what += f", criteria written per pair under meta-rubric '{escape(meta.name)}'"
        err.print(f"judgekit reward server: {what}, "
                  f"judge {escape(judge_options.spec.name)}, on http://{escape(host)}:{port}/ (POST / or /get_reward, GET /health)",
                  highlight=False)
        run_server(the_rubric, the_judge, host=host, port=port, options=options)


def register(app: typer.Typer) -> None:
    app.command()(serve)
