"""The options shared by several commands, declared once.

- Judge options: every command that calls a judge takes the same set, with the defaults of
  `JudgeConfig` (and of `Judge` for --judge and --base-url). `@with_judge_options()` adds them to a
  command's parameters and hands the command one `JudgeOptions` (keyword `judge_options`): the
  JudgeSpec they describe (--panel's too), from which the command builds its Judge.
- File options: the commands that judge the rows of an input file into an output file (score,
  compare, rank) take --rubric, --output, --resume, --field and --split. `@with_file_options(...)`
  adds them and hands the command one `FileOptions` (keyword `file_options`).

So no command re-declares or forgets one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import typer
from pydantic import ValidationError
from rich.markup import escape
from typer.core import TyperCommand

from judgekit.cli import progress, settings
from judgekit.config import JudgeConfig
from judgekit.errors import InputError
from judgekit.judge import Judge, JudgeSpec

Command = Callable[..., None]


@dataclass(frozen=True)
class JudgeOptions:
    """The judge a command runs, as its options describe it: one JudgeSpec (--judge and --base-url, or
    --panel's judges, with every setting), and the profiles `eval` compares."""

    spec: JudgeSpec
    profiles: tuple[str, ...]
    """`eval` compares several profiles; for every other command, `spec.config.profile` alone."""

    @property
    def config(self) -> JudgeConfig:
        return self.spec.config

    def judge(self, profile: str | None = None, *, check: bool = True) -> Judge:
        """The judge, its servers checked (`check`): one that does not answer ends the command before
        any row. A command over an input file checks once its output is open (cli.runfile), so that a
        bad output is exit 2 whether the server answers or not."""
        spec = self.spec if profile is None else self.spec.with_config(self.config.model_copy(update={"profile": profile}))
        try:
            judge = spec.build()
        except InputError as exc:  # Judge() names its arguments; the command line, its flags
            raise exc.cli_error or exc from None
        try:
            if check:
                judge.check_servers()
        except BaseException:
            judge.close()
            raise
        return judge


def _default(field: str) -> object:
    return JudgeConfig.model_fields[field].default


# The panels `--help` groups the options into; a command's own options name theirs where declared.
IO_PANEL, JUDGE_PANEL, SCORING_PANEL, LIMITS_PANEL, SCALE_PANEL = "Input and output", "Judge", "Scoring", "Limits", "Scale"
_PANEL_OF = {
    **dict.fromkeys(("rubric", "output", "resume", "field", "split", "limit", "progress_every", "quiet", "dry_run"), IO_PANEL),
    **dict.fromkeys(("samples", "soft", "allow_code", "mask_names", "min_coverage", "view"), SCORING_PANEL),
    **dict.fromkeys(("concurrency", "timeout", "max_attempts", "max_reasks", "max_calls", "max_cost"), LIMITS_PANEL),
}


def _option(name: str, annotation: object, default: object, *decls: str, help: str, env: bool = True) -> inspect.Parameter:
    """An option; a judge option (`env`) is also read from the environment (JUDGEKIT_NAME) and a project file
    (judgekit.cli.settings)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=typer.Option(default, *decls, help=help, rich_help_panel=_PANEL_OF.get(name, JUDGE_PANEL),
                                                  envvar=settings.env_var(name) if env else None))


def _profile_option(several: bool) -> inspect.Parameter:
    if several:
        return _option("profile", list[str], [_default("profile")], "--profile", "-p",
                       help="judge profile(s) to compare: repeat or comma-separate (judgekit, rm-r1, prometheus2, "
                            "rubric-rm, yes-no, PATH.yaml)")
    return _option("profile", str, _default("profile"), "--profile", "-p",
                   help="judge profile: judgekit | rm-r1 | prometheus2 | rubric-rm | yes-no | PATH.yaml")


def judge_parameters(*, several_profiles: bool = False, without: frozenset[str] = frozenset()) -> list[inspect.Parameter]:
    """The judge options as the parameters of a command function (typer reads them from its signature);
    `without`: the settings that do not apply to the command (it runs with their defaults)."""
    return [p for p in _judge_parameters(several_profiles) if p.name not in without]


def _judge_parameters(several_profiles: bool) -> list[inspect.Parameter]:
    return [
        _option("judge", str, "local", "--judge", "-j", help="local | local:PATH.gguf | openai:MODEL | anthropic:MODEL | vllm:MODEL"),
        _option("base_url", list[str] | None, None, "--base-url",
                help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vllm serve); repeat it for several "
                     "servers of the same model (calls go to the least busy; one that does not answer at the start "
                     "or keeps failing is set aside)"),
        _option("panel", Path | None, None, "--panel",
                help="a panel of judges (YAML: judges, aggregate) or a confidence cascade (cascade, threshold) in place of --judge"),
        _option("samples", int, _default("samples"), "--samples",
                help="answers per criterion (temperature > 0, default 1.0); the verdict is their majority"),
        _profile_option(several_profiles),
        _option("concurrency", int, _default("concurrency"), "--concurrency", "-c", help="judge calls in flight"),
        _option("criteria_per_call", str, _default("criteria_per_call"), "--criteria-per-call", help="one | all | N"),
        _option("timeout", float, _default("timeout"), "--timeout", help="seconds per judge call"),
        _option("max_attempts", int, _default("max_attempts"), "--max-attempts", help="attempts per call on 429/5xx/timeouts"),
        _option("max_reasks", int, _default("max_reasks"), "--max-reasks", help="re-asks when an answer does not validate"),
        _option("temperature", float | None, _default("temperature"), "--temperature", help="default: the profile's, else 0"),
        _option("max_tokens", int | None, _default("max_tokens"), "--max-tokens", help="default: the profile's, else 1024"),
        _option("soft", bool | None, _default("soft"), "--soft/--no-soft",
                help="ask for token log-probabilities and keep P(verdict) per criterion [default: the profile's]"),
        _option("no_cache", bool, not _default("cache"), "--no-cache", help="neither read nor write the verdict cache"),
        _option("cache_dir", str | None, _default("cache_dir"), "--cache-dir",
                help="where the verdict cache lives [default: $JUDGEKIT_CACHE_DIR or ~/.cache/judgekit]"),
        _option("allow_code", bool, _default("allow_code"), "--allow-code",
                help="run python: module:function checks of the --rubric file (never of a data row's rubric)"),
        _option("view", str | None, _default("view"), "--view",
                help="what the judge sees of a transcript response: last_reply | assistant | full [default: the rubric's]"),
        _option("mask_names", bool, _default("mask_names"), "--mask-names",
                help="replace model/lab names in responses with [model] before judging"),
        _option("two_phase", bool, _default("two_phase"), "--two-phase",
                help="reasoning judges: think freely first, then give the constrained final answer"),
        _option("think_tokens", int, _default("think_tokens"), "--think-tokens",
                help="token budget of the thinking phase (--two-phase)"),
        _option("generator", str | None, _default("generator"), "--generator",
                help="model that writes criteria (rubric-rm rubrics, --adaptive); default: the judge"),
        _option("generator_base_url", str | None, _default("generator_base_url"), "--generator-base-url",
                help="OpenAI-compatible server of --generator (default: --base-url)"),
        _option("max_calls", int | None, _default("max_calls"), "--max-calls",
                help="stop before sending more judge requests than this (exit 3; finished rows kept, --resume continues)"),
        _option("max_cost", float | None, _default("max_cost"), "--max-cost",
                help="stop once the calls have cost this many USD at list price (priced models only; exit 3)"),
        _option("min_coverage", float, _default("min_coverage"), "--min-coverage",
                help="least scored share (0..1) of the rubric's absolute weight for a reward; below it, or with a "
                     "hard rule unscored, the reward is null"),
        *progress_parameters(),
    ]


def progress_parameters() -> list[inspect.Parameter]:
    return [_option("progress_every", float, progress.DEFAULT_EVERY, "--progress-every",
                    help="when stderr is not a terminal: one progress line every this many seconds (0: none)"),
            _option("quiet", bool, False, "--quiet", "-q", help="no progress bar or progress lines")]


_FLAGS = {"cache": "--no-cache", "criteria_per_call": "--criteria-per-call"}


def _per_call(value: str) -> str | int:
    if value in ("one", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise InputError("--criteria-per-call takes one, all or a positive number", field="--criteria-per-call")


def _config(values: dict[str, object]) -> JudgeConfig:
    """The JudgeConfig of the option values; a value it refuses is bad usage naming the option."""
    no_cache = values.pop("no_cache")
    fields = {**values, "cache": not no_cache, "criteria_per_call": _per_call(str(values["criteria_per_call"]))}
    try:
        return JudgeConfig.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # the one rule across fields: --samples with --temperature 0
            raise InputError(first["msg"].removeprefix("Value error, "), field="--samples") from None
        name = str(first["loc"][0])
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        raise InputError(f"{first['msg']} (got {first['input']!r})", field=flag) from None


def judge_options(values: dict[str, object]) -> JudgeOptions:
    """The JudgeOptions of the values typer parsed for `judge_parameters()`."""
    progress.SETTINGS.every, progress.SETTINGS.quiet = float(cast(float, values.pop("progress_every"))), bool(values.pop("quiet"))
    spec, base_url, profile = values.pop("judge"), values.pop("base_url"), values.pop("profile")
    panel_file = cast(Path | None, values.pop("panel"))
    names = [profile] if isinstance(profile, str) else [n.strip() for item in cast(list[str], profile)
                                                         for n in item.split(",") if n.strip()]
    config = _config({**values, "profile": names[0] if names else _default("profile")})
    urls = cast(list[str] | None, base_url) or []
    if panel_file is not None and (spec != "local" or urls):
        raise InputError("--panel names its judges; give it without --judge and --base-url", field="--panel")
    if panel_file is not None:
        from judgekit.panel import load_panel

        described = load_panel(panel_file).with_config(config)
    else:
        try:
            described = JudgeSpec.model_validate({"judge": spec, "base_url": urls[0] if len(urls) == 1 else urls or None,
                                                  "config": config})
        except ValidationError as exc:
            raise InputError(exc.errors()[0]["msg"].removeprefix("Value error, "), field="--judge") from None
    return JudgeOptions(described, tuple(names))


def _with_group(name: str, params: list[inspect.Parameter],
                build: Callable[[dict[str, object]], object]) -> Callable[[Command], Command]:
    """Add `params` to a command's parameters (typer reads them from its signature) and hand the command
    `build(their values)` as keyword `name` in their place."""

    def decorate(command: Command) -> Command:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != name]

        def run(**values: object) -> None:
            group = {p.name: values.pop(p.name) for p in params}
            command(**{name: build(group)}, **values)

        run.__name__, run.__qualname__, run.__doc__ = command.__name__, command.__qualname__, command.__doc__
        run.__signature__ = inspect.Signature([*own, *params])  # type: ignore[attr-defined]  # what typer reads
        return run

    return decorate


def with_judge_options(*, several_profiles: bool = False, without: frozenset[str] = frozenset()) -> Callable[[Command], Command]:
    """Give a command the judge options (but those `without`); it receives them as `judge_options: JudgeOptions`."""
    return _with_group("judge_options", judge_parameters(several_profiles=several_profiles, without=without), judge_options)


# ---- file options -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileOptions:
    """Where a file command's rows and rubric come from and where its output goes."""

    rubric: Path | None
    output: str | None
    resume: bool
    fields: dict[str, str]
    """--field NAME=KEY remappings of input fields."""
    split: str | None
    suffix: str
    """The default output is INPUT.SUFFIX.jsonl."""
    limit: int | None = None
    """--limit: only the input's first N rows."""
    dry_run: bool = False
    """--dry-run: the calls and estimated cost, no call made."""

    def output_for(self, input: Path) -> str:
        if self.output:
            return self.output
        if not input.exists():  # a hub dataset name: a file of that name in the current folder
            input = Path(str(input).replace("/", "__"))
        name = input.name[: -len(".jsonl")] if input.name.endswith(".jsonl") else input.stem
        return str(input.with_name(f"{name}.{self.suffix}.jsonl"))


def field_map(pairs: list[str]) -> dict[str, str]:
    """The `--field NAME=KEY` remappings."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, key = pair.partition("=")
        if not sep or not name or not key:
            raise InputError(f"--field takes NAME=KEY (e.g. prompt=question), got {pair!r}", field="--field")
        mapping[name.strip()] = key.strip()
    return mapping


SPLIT_HELP = "the split to read of a dataset that has several (a save_to_disk folder or a hub dataset)"

# `--limit N`: every command that reads rows in order takes only the first N (eval's own --limit samples).
LimitOpt: int | None = typer.Option(None, "--limit", min=1, help="use only the input's first N rows", rich_help_panel=IO_PANEL)


def file_parameters(suffix: str, fields: str) -> list[inspect.Parameter]:
    """The file options as command parameters; `fields` names the input fields --field can remap."""
    return [
        _option("rubric", Path | None, None, "--rubric", "-r", help="rubric YAML (rows may carry their own)", env=False),
        _option("output", str | None, None, "--output", "-o",
                help=f"output JSONL; '-' for stdout [default: INPUT.{suffix}.jsonl]", env=False),
        _option("resume", bool, False, "--resume", help="continue an interrupted run from its output file", env=False),
        _option("field", list[str], [], "--field", help=f"remap an input field: NAME=KEY ({fields})", env=False),
        _option("split", str | None, None, "--split", help=SPLIT_HELP, env=False),
        inspect.Parameter("limit", inspect.Parameter.KEYWORD_ONLY, annotation=int | None, default=LimitOpt),
        _option("dry_run", bool, False, "--dry-run", env=False,
                help="print the judge calls the run would make and, for a priced model, its estimated cost; then exit"),
    ]


def with_file_options(suffix: str, fields: str) -> Callable[[Command], Command]:
    """Give a file command the file options; it receives them as `file_options: FileOptions`."""

    def build(values: dict[str, object]) -> FileOptions:
        return FileOptions(rubric=cast(Path | None, values["rubric"]), output=cast(str | None, values["output"]),
                           resume=bool(values["resume"]), fields=field_map(cast(list[str], values["field"])),
                           split=cast(str | None, values["split"]), suffix=suffix, limit=cast(int | None, values["limit"]),
                           dry_run=bool(values["dry_run"]))

    return _with_group("file_options", file_parameters(suffix, fields), build)


def number_option(default: float | None, *decls: str, min: float | None = None, max: float | None = None,
                  above: float | None = None, help: str = "", panel: str | None = None) -> float:
    """A command's own float option, refused (exit 2, naming it) unless a finite number within its
    bounds (`above`: strictly). The bounds are checked here, after finiteness, not by typer's range:
    nan fails every comparison, so the range named a bound as the reason ("less than or equal to ...")."""

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        if not math.isfinite(value):
            raise typer.BadParameter(f"{value} is not a finite number")
        if above is not None and not value > above:
            raise typer.BadParameter(f"{value:g} is not above {above:g}")
        if min is not None and value < min:
            raise typer.BadParameter(f"{value:g} is below {min:g}")
        if max is not None and value > max:
            raise typer.BadParameter(f"{value:g} is above {max:g}")
        return value

    return cast(float, typer.Option(default, *decls, callback=check, help=help, rich_help_panel=panel))


def _strategy(value: str) -> str:
    from judgekit.judging.ranking import check_strategy

    return check_strategy(value)


def strategy_option(help: str | None = None) -> str:
    """--strategy; `help`: the strategies a command takes, when not every one. (Made by the commands
    that rank: the ranking module is loaded with them, not with every command.)"""
    from judgekit.judging.ranking import STRATEGIES

    help = help or " | ".join(STRATEGIES)
    return cast(str, typer.Option("pointwise", "--strategy", "-s", callback=_strategy, help=help, rich_help_panel=SCORING_PANEL))


# `--ray`: the command runs its rows on a Ray pool (judgekit.ray, the [ray] extra) instead of in this process.
RayOpt: bool = typer.Option(False, "--ray", help="judge on a Ray pool: the cluster at RAY_ADDRESS, else a local "
                                                 "Ray instance; one judge per actor (needs judgekit[ray])",
                             rich_help_panel=SCALE_PANEL)
RayActorsOpt: int = typer.Option(2, "--ray-actors", min=1, help="Ray actors, each with its own judge and --concurrency",
                                 rich_help_panel=SCALE_PANEL)
RayShardRowsOpt: int = typer.Option(1000, "--ray-shard-rows", min=1,
                                    help="rows per shard: each is judged by one actor and written once as a part "
                                         "file, the unit --resume continues from", rich_help_panel=SCALE_PANEL)
SplitOpt: str | None = typer.Option(None, "--split", help=SPLIT_HELP, rich_help_panel=IO_PANEL)


class HelpLayout(TyperCommand):
    """How a command's --help reads: each text as written (Rich would read the `[ray]` of `judgekit[ray]`,
    or a `[default: ...]`, as markup and drop it; escaped once, as the command is built), and the options
    in panels in one order, whatever order the command declares them in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # TyperCommand's own arguments
        super().__init__(*args, **kwargs)
        self.help = escape(self.help) if self.help else self.help
        for param in self.params:
            text = getattr(param, "help", None)  # options and typer's arguments have help; click's arguments none
            if text:
                param.help = escape(text)  # type: ignore[attr-defined]
        self.params.sort(key=lambda param: _PANEL_ORDER.index(getattr(param, "rich_help_panel", None)))


_PANEL_ORDER = (None, IO_PANEL, JUDGE_PANEL, SCORING_PANEL, LIMITS_PANEL, SCALE_PANEL)
