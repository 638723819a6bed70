"""CLI commands for the rewards part of judgekit (registered on the main app by judgekit.cli.app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape


def _clip(value: Optional[str]) -> tuple[float, float] | None:
    from judgekit.errors import InputError

    if value is None:
        return None
    low, sep, high = value.partition(",")
    try:
        bounds = (float(low), float(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or bounds[0] > bounds[1]:
        raise InputError(f"--clip takes LOW,HIGH with LOW <= HIGH (e.g. -1,1), got {value!r}", field="--clip")
    return bounds


def register(app: typer.Typer, rubric_app: typer.Typer) -> None:
    # Imported here: judgekit.cli.app imports this module while it is being built.
    from judgekit.cli.app import (BaseUrlOpt, JudgeOpt, MinCoverageOpt, ProfileOpt, ThinkTokensOpt, TwoPhaseOpt, _make_judge,
                              err)

    @app.command()
    def serve(
        rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML"),
        judge: str = JudgeOpt,
        base_url: Optional[str] = BaseUrlOpt,
        profile: str = ProfileOpt,
        two_phase: bool = TwoPhaseOpt,
        think_tokens: int = ThinkTokensOpt,
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (loopback by default)"),
        port: int = typer.Option(8000, "--port", min=1, max=65535),
        concurrency: int = typer.Option(64, "--concurrency", "-c", min=1, help="judge calls in flight"),
        criteria_per_call: str = typer.Option("one", "--criteria-per-call", help="one | all | N"),
        strategy: str = typer.Option("pointwise", "--strategy", help="pointwise | anchor | round_robin"),
        no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the verdict cache"),
        timeout: float = typer.Option(60.0, "--timeout", help="seconds per judge call"),
        normalize: bool = typer.Option(False, "--normalize", help="group normalisation per prompt: (r-mean)/(std+eps)"),
        clip: Optional[str] = typer.Option(None, "--clip", help="clip rewards to LOW,HIGH (applied last)"),
        veto_penalty: Optional[float] = typer.Option(None, "--veto-penalty", help="reward for a hard-rule veto instead of 0"),
        length_debias: bool = typer.Option(False, "--length-debias", help="remove the reward's slope on log length per prompt"),
        unscored_reward: float = typer.Option(0.0, "--unscored-reward", help="number sent for a response without a reward"),
        min_coverage: float = MinCoverageOpt,
        request_timeout: float = typer.Option(150.0, "--request-timeout", help="seconds a request's judging may take (OpenRLHF waits 180); unfinished responses are unscored"),
        max_attempts: int = typer.Option(4, "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
        max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="largest request body accepted (MB)"),
        allow_code: bool = typer.Option(False, "--allow-code", help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
    ) -> None:
        """HTTP reward server for OpenRLHF (--remote_rm_url http://HOST:PORT/get_reward); GET /health."""
        from judgekit.rl.rewards import STRATEGIES, make_shaping
        from judgekit.rubric.models import load_rubric
        from judgekit.errors import InputError
        from judgekit.rl.serve import ServeOptions, serve as run_server

        the_rubric = load_rubric(rubric)
        if strategy not in STRATEGIES:
            raise InputError(f"--strategy takes one of {', '.join(STRATEGIES)}", field="--strategy")
        shaping = make_shaping(normalize, _clip(clip), veto_penalty, length_debias)
        if not request_timeout > 0:
            raise InputError(f"--request-timeout takes a positive number of seconds, got {request_timeout}", field="--request-timeout")
        options = ServeOptions(max_bytes=int(max_body_mb * 1024 * 1024), unscored_reward=unscored_reward,
                               request_timeout=request_timeout)
        if host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"[yellow]warning[/yellow]: listening on {escape(host)}: anyone who can reach it can spend your judge's budget")
        with _make_judge(judge, base_url, concurrency, no_cache, None, timeout=timeout, max_attempts=max_attempts,
                         criteria_per_call=criteria_per_call, allow_code=allow_code, profile=profile,
                         two_phase=two_phase, think_tokens=think_tokens, min_coverage=min_coverage) as the_judge:
            err.print(f"judgekit reward server: rubric '{escape(the_rubric.name)}' ({len(the_rubric.criteria)} criteria), "
                      f"judge {escape(judge)}, on http://{escape(host)}:{port}/ (POST / or /get_reward, GET /health)", highlight=False)
            run_server(the_rubric, the_judge, host=host, port=port, shaping=shaping, options=options, strategy=strategy)
