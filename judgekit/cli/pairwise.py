"""CLI commands for the pairwise part of judgekit (registered on the main app by judgekit.cli.app):
`compare` (two responses, both orders), `rank` (a group of responses) and `eval` (human labels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape


def register(app: typer.Typer, rubric_app: typer.Typer) -> None:
    # Imported here: judgekit.cli.app imports this module while it is still being initialised.
    from judgekit.cli.app import (
        BaseUrlOpt,
        JudgeOpt,
        GeneratorOpt,
        GeneratorUrlOpt,
        MaskNamesOpt,
        MaxTokensOpt,
        MinCoverageOpt,
        ProfileOpt,
        TemperatureOpt,
        ThinkTokensOpt,
        TwoPhaseOpt,
        _default_output,
        _makes_criteria,
        _field_map,
        _exit_if_judge_failed,
        _judge_failed_entirely,
        _make_judge,
        _print_summary,
        _require_rubrics,
        err,
    )
    from judgekit.errors import InputError
    from judgekit.judge import rubric_for
    from judgekit.judging.results import CompareResult, RankResult
    from judgekit.data.rows import InputRow, pair_label, read_jsonl
    from judgekit.rubric.models import load_rubric
    from judgekit.cli.runfile import run_file
    from judgekit.secrets import redact_tree

    @app.command()
    def compare(
        input: Path = typer.Argument(..., help="JSONL rows with prompt, response_a, response_b (optional label)"),
        rubric: Optional[Path] = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
        judge: str = JudgeOpt,
        base_url: Optional[str] = BaseUrlOpt,
        output: Optional[str] = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.compared.jsonl]"),
        concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="judge calls in flight"),
        resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
        no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the verdict cache"),
        explain: bool = typer.Option(False, "--explain", help="add the judge's reasoning per criterion (both orders)"),
        soft: Optional[bool] = typer.Option(None, "--soft/--no-soft", help="ask for token log-probabilities; add 'soft': P(A better) per criterion [default: the profile's]"),
        adaptive: Optional[Path] = typer.Option(None, "--adaptive", help="meta-rubric YAML (e.g. rubrics/meta/pairwise.yaml): first write the criteria that separate each pair"),
        criteria_per_call: str = typer.Option("one", "--criteria-per-call", help="one | all | N"),
        timeout: float = typer.Option(60.0, "--timeout", help="seconds per judge call"),
        max_attempts: int = typer.Option(4, "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
        max_reasks: int = typer.Option(2, "--max-reasks", help="re-asks when an answer does not validate"),
        temperature: Optional[float] = TemperatureOpt,
        max_tokens: Optional[int] = MaxTokensOpt,
        allow_code: bool = typer.Option(False, "--allow-code", help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
        field: list[str] = typer.Option([], "--field", help="remap an input field: NAME=KEY (prompt, response_a, response_b, id, reference, label, rubric)"),
        cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
        mask_names: bool = MaskNamesOpt,
        profile: str = ProfileOpt,
        two_phase: bool = TwoPhaseOpt,
        think_tokens: int = ThinkTokensOpt,
        generator: Optional[str] = GeneratorOpt,
        generator_base_url: Optional[str] = GeneratorUrlOpt,
    ) -> None:
        """Compare two responses per row, criterion by criterion, in both orders: winner, margin, preferences."""
        rows = read_jsonl(input, required=("prompt", "response_a", "response_b"), optional=("reference", "label"),
                          mapping=_field_map(field))
        for row in rows:
            label = row.fields.get("label")
            if label is not None:
                row.fields["label"] = pair_label(label)
                if row.fields["label"] is None:
                    raise InputError(f"label must be A, B or tie (or LLMBar's 1|2, JudgeBench's A>B|B>A|A=B), got {label!r}",
                                     file=str(input), line=row.line, field="label")
        the_rubric = load_rubric(rubric) if rubric else None
        meta = None
        if adaptive is not None:
            from judgekit.rubric.meta import load_meta_rubric

            meta = load_meta_rubric(adaptive)
        if not _makes_criteria(profile, meta):
            _require_rubrics(rows, the_rubric, str(input))
        out = output or _default_output(input, "compared")
        with _make_judge(judge, base_url, concurrency, no_cache, cache_dir, criteria_per_call=criteria_per_call,
                         timeout=timeout, max_attempts=max_attempts, max_reasks=max_reasks, temperature=temperature,
                         max_tokens=max_tokens, allow_code=allow_code, mask_names=mask_names,
                         profile=profile, two_phase=two_phase, think_tokens=think_tokens, generator=generator,
                         generator_base_url=generator_base_url) as the_judge:

            tally = {"A": 0, "B": 0, "tie": 0, None: 0, "inconsistent": 0, "labelled": 0, "agree": 0}

            async def job(row: InputRow) -> dict[str, Any]:
                obj = (await the_judge.acompare_row(row, the_rubric, explain, soft, meta)).model_dump()
                tally[obj["winner"]] += 1
                tally["inconsistent"] += len(obj["inconsistent"])
                if row.fields.get("label") is not None:
                    tally["labelled"] += 1
                    tally["agree"] += int(obj["winner"] == row.fields["label"])
                return obj

            def failed(row: InputRow, why: str) -> dict[str, Any]:
                tally[None] += 1
                return CompareResult.failed(row.id, why).model_dump()

            summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err,
                               label="comparing", failed=failed)
            _print_summary(summary, out)
            agreement = f"; agreement with 'label': {tally['agree']}/{tally['labelled']}" if tally["labelled"] else ""
            err.print(f"  winners: A {tally['A']}, B {tally['B']}, tie {tally['tie']}, unscored {tally[None]}; "
                      f"position-inconsistent criteria: {tally['inconsistent']}{agreement}", highlight=False)
            _exit_if_judge_failed(the_judge, summary)

    @app.command()
    def rank(
        input: Path = typer.Argument(..., help="JSONL rows with prompt and responses (a list); optional reference"),
        rubric: Optional[Path] = typer.Option(None, "--rubric", "-r", help="rubric YAML (rows may carry their own)"),
        strategy: str = typer.Option("pointwise", "--strategy", "-s", help="pointwise | anchor | round_robin"),
        anchor_index: Optional[int] = typer.Option(None, "--anchor-index", help="anchor: compare with responses[N] (default: the reference, else 0)"),
        judge: str = JudgeOpt,
        base_url: Optional[str] = BaseUrlOpt,
        output: Optional[str] = typer.Option(None, "--output", "-o", help="output JSONL; '-' for stdout [default: INPUT.ranked.jsonl]"),
        concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="judge calls in flight"),
        resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from its output file"),
        no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the verdict cache"),
        criteria_per_call: str = typer.Option("one", "--criteria-per-call", help="one | all | N"),
        timeout: float = typer.Option(60.0, "--timeout", help="seconds per judge call"),
        max_attempts: int = typer.Option(4, "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
        max_reasks: int = typer.Option(2, "--max-reasks", help="re-asks when an answer does not validate"),
        temperature: Optional[float] = TemperatureOpt,
        max_tokens: Optional[int] = MaxTokensOpt,
        allow_code: bool = typer.Option(False, "--allow-code", help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
        field: list[str] = typer.Option([], "--field", help="remap an input field: NAME=KEY (prompt, responses, id, reference, rubric)"),
        cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
        mask_names: bool = MaskNamesOpt,
        profile: str = ProfileOpt,
        two_phase: bool = TwoPhaseOpt,
        think_tokens: int = ThinkTokensOpt,
        generator: Optional[str] = GeneratorOpt,
        generator_base_url: Optional[str] = GeneratorUrlOpt,
        min_coverage: float = MinCoverageOpt,
    ) -> None:
        """One reward in [0, 1] per response of each group (GRPO-style), by the chosen strategy."""
        from judgekit.judge import rank_group_with
        from judgekit.judging.outcomes import rank_result
        from judgekit.judging.ranking import STRATEGIES

        if strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {strategy!r}; use {' | '.join(STRATEGIES)}", field="--strategy")
        rows = read_jsonl(input, required=("prompt", "responses"), mapping=_field_map(field))
        for row in rows:
            responses = row.fields["responses"]
            if not isinstance(responses, list) or not responses:
                raise InputError("'responses' must be a non-empty list", file=str(input), line=row.line, field="responses")
            if anchor_index is not None and not 0 <= anchor_index < len(responses):
                raise InputError(f"--anchor-index {anchor_index} is outside this group of {len(responses)} responses",
                                 file=str(input), line=row.line, field="responses")
        the_rubric = load_rubric(rubric) if rubric else None
        if not _makes_criteria(profile):
            _require_rubrics(rows, the_rubric, str(input))
        out = output or _default_output(input, "ranked")
        with _make_judge(judge, base_url, concurrency, no_cache, cache_dir, criteria_per_call=criteria_per_call,
                         timeout=timeout, max_attempts=max_attempts, max_reasks=max_reasks, temperature=temperature,
                         max_tokens=max_tokens, allow_code=allow_code, mask_names=mask_names,
                         profile=profile, two_phase=two_phase, think_tokens=think_tokens, generator=generator,
                         generator_base_url=generator_base_url, min_coverage=min_coverage) as the_judge:

            async def job(row: InputRow) -> dict[str, Any]:
                o = await rank_group_with(
                    the_judge, rubric_for(row, the_rubric, optional=the_judge.makes_criteria()), row.fields["prompt"],
                    row.fields["responses"], strategy=strategy,
                    reference=row.fields.get("reference"), anchor_index=anchor_index if strategy == "anchor" else None,
                    row=row.data,
                )
                return rank_result(row.id, o, strategy).model_dump()

            summary = run_file(the_judge, rows, job, source=input, output=out, resume=resume, console=err, label="ranking",
                               failed=lambda row, why: RankResult.failed(row.id, len(row.fields["responses"]), why).model_dump())
            _print_summary(summary, out)
            _exit_if_judge_failed(the_judge, summary)

    @app.command("eval")
    def eval_(
        data: Path = typer.Argument(..., help="a data file (an LLMBar folder also works)"),
        format: str = typer.Option(..., "--format", "-f", help="llmbar | judgebench | pandalm | hh-rlhf | evalbiasbench"),
        rubric: Path = typer.Option(..., "--rubric", "-r", help="rubric YAML"),
        judge: str = JudgeOpt,
        base_url: Optional[str] = BaseUrlOpt,
        limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="at most N pairs per subset (seeded sample)"),
        seed: int = typer.Option(0, "--seed", help="seed of the sample and of the order shuffles"),
        output: Optional[str] = typer.Option(None, "--output", "-o", help="JSON report; '-' for stdout"),
        probe: Optional[str] = typer.Option(None, "--probe", help="master-key: also score empty 'master key' replies"),
        soft: Optional[bool] = typer.Option(None, "--soft/--no-soft", help="keep P(A better) per criterion (needs token log-probabilities) [default: the profile's]"),
        adaptive: Optional[Path] = typer.Option(None, "--adaptive", help="meta-rubric YAML: write the criteria that separate each pair first"),
        concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="judge calls in flight"),
        no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the verdict cache"),
        criteria_per_call: str = typer.Option("one", "--criteria-per-call", help="one | all | N"),
        timeout: float = typer.Option(60.0, "--timeout", help="seconds per judge call"),
        max_attempts: int = typer.Option(4, "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
        max_reasks: int = typer.Option(2, "--max-reasks", help="re-asks when an answer does not validate"),
        temperature: Optional[float] = TemperatureOpt,
        max_tokens: Optional[int] = MaxTokensOpt,
        allow_code: bool = typer.Option(False, "--allow-code", help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
        cache_dir: Optional[str] = typer.Option(None, "--cache-dir"),
        mask_names: bool = MaskNamesOpt,
        profile: list[str] = typer.Option(["judgekit"], "--profile", "-p", help="judge profile(s) to compare: repeat or comma-separate (judgekit, rm-r1, prometheus2, rubric-rm, yes-no, PATH.yaml)"),
        two_phase: bool = TwoPhaseOpt,
        think_tokens: int = ThinkTokensOpt,
        generator: Optional[str] = GeneratorOpt,
        generator_base_url: Optional[str] = GeneratorUrlOpt,
    ) -> None:
        """Judge human-labelled pairs with the rubric: accuracy, tie rate, position inconsistency, cost."""
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from judgekit.data.datasets import read_pairs
        from judgekit.data.outfile import refuse_input_as_output
        from judgekit.evaluation.evaluate import MASTER_KEYS, PROBES, build_report, evaluate, profile_table, report_table

        if probe is not None and probe not in PROBES:
            raise InputError(f"unknown probe {probe!r}; use {' | '.join(PROBES)}", field="--probe")
        the_rubric = load_rubric(rubric)
        meta_rubric = None
        if adaptive is not None:
            from judgekit.rubric.meta import load_meta_rubric

            meta_rubric = load_meta_rubric(adaptive)
        profiles = [name.strip() for item in profile for name in item.split(",") if name.strip()]
        from judgekit.protocol.profiles import load_profile

        for name in profiles:
            load_profile(name)  # a bad profile is bad usage: exit 2 before any call
        if output not in (None, "-"):
            refuse_input_as_output(data, Path(output))
        pairs = read_pairs(data, format, limit=limit, seed=seed)
        if not pairs:
            raise InputError("no labelled pairs in the data", file=str(data))
        prompts = len({json.dumps(p.prompt, sort_keys=True) for p in pairs})
        total = len(pairs) + (prompts * len(MASTER_KEYS) if probe else 0)
        reports = []
        all_failed = True
        for name in profiles:
            started = time.perf_counter()
            with _make_judge(judge, base_url, concurrency, no_cache, cache_dir, criteria_per_call=criteria_per_call,
                             timeout=timeout, max_attempts=max_attempts, max_reasks=max_reasks, temperature=temperature,
                             max_tokens=max_tokens, allow_code=allow_code, mask_names=mask_names,
                             profile=name, two_phase=two_phase, think_tokens=think_tokens, generator=generator,
                             generator_base_url=generator_base_url) as the_judge:
                progress = Progress(TextColumn(f"[bold]evaluating ({name})"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), console=err, disable=not err.is_terminal)
                with progress:
                    task = progress.add_task("evaluating", total=total)
                    run = the_judge.run(evaluate(the_judge, the_rubric, pairs, probe=probe, soft=soft, adaptive=meta_rubric,
                                                 on_done=lambda: progress.advance(task)))
                meta = {"format": format, "data": str(data), "rubric": str(rubric), "judge": judge, "profile": name,
                        "adaptive": str(adaptive) if adaptive else None, "limit": limit, "seed": seed,
                        "seconds": round(time.perf_counter() - started, 1), "stats": the_judge.stats.as_dict()}
                report = build_report(run, meta=meta)
                reports.append(report)
                err.print(report_table(report))
                if run.probe is not None:
                    fp = run.probe["false_positive_rate"]
                    err.print(f"master-key probe: false-positive rate {'-' if fp is None else f'{100 * fp:.0f}%'} "
                              f"(reward > 0 for an empty reply) over {prompts} prompts x {len(MASTER_KEYS)} replies", highlight=False)
                all_failed = all_failed and _judge_failed_entirely(the_judge)
        if len(reports) > 1:
            err.print(profile_table(reports))
        out_obj: dict[str, Any] = reports[0] if len(reports) == 1 else {"profiles": {r["profile"]: r for r in reports}}
        text = json.dumps(redact_tree(out_obj), ensure_ascii=False, indent=2)
        if output == "-":
            typer.echo(text)
        elif output:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            Path(output).write_text(text + "\n", encoding="utf-8")
            err.print(f"report -> {escape(output)}", highlight=False)
        if all_failed:
            err.print("[red]error[/red]: every judge call failed; see the report for the reasons")
            raise typer.Exit(1)
