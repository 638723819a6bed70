"""Every command that calls a judge takes the same judge options, with JudgeConfig's defaults."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import typer

import judgekit
from judgekit.cli.app import app
from judgekit.config import JudgeConfig
from tests.helpers import RUBRICS, run_cli

JUDGE_COMMANDS = ("score", "compare", "rank", "eval", "probe", "serve", "rubric generate", "rubric refine")
OTHER_COMMANDS = ("rubric validate", "rubric show", "report", "config")  # no judge call: they read files and settings only
NOT_OPTIONS = {"seed"}  # eval's --seed seeds its sample; the judge keeps JudgeConfig's seed


# typer's click objects (its own click, vendored or not), read by duck typing.
Command = Any


def _commands(group: Command, prefix: str = "") -> dict[str, Command]:
    found: dict[str, Command] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


COMMANDS = _commands(typer.main.get_command(app).load_all())


def _options(command: Command) -> dict[str, Any]:
    return {p.name: p for p in command.params if p.param_type_name == "option" and p.name}


def _judge_options(command: Command) -> dict[str, tuple[object, ...]]:
    names = {"judge", "base_url", "no_cache", *JudgeConfig.model_fields} - {"cache"} - NOT_OPTIONS
    options = _options(command)
    return {n: (tuple(options[n].opts), tuple(options[n].secondary_opts), options[n].default, options[n].help)
            for n in sorted(names) if n in options}


def test_every_command_is_known() -> None:
    assert set(COMMANDS) == {*JUDGE_COMMANDS, *OTHER_COMMANDS}


# The settings that do not apply to a command: it does not offer them (generated criteria are
# principles, and rubric authoring reads verdicts, not rewards).
NOT_APPLYING = {"rubric generate": {"allow_code", "min_coverage"}, "rubric refine": {"min_coverage"}}


@pytest.mark.parametrize("name", JUDGE_COMMANDS)
def test_judge_commands_take_the_same_judge_options(name: str) -> None:
    reference = {n: o for n, o in _judge_options(COMMANDS["score"]).items() if n not in NOT_APPLYING.get(name, ())}
    options = _judge_options(COMMANDS[name])
    if name in ("eval", "probe"):  # they compare several profiles: the same option, repeatable
        profile = _options(COMMANDS[name])["profile"]
        assert profile.multiple and profile.default == [JudgeConfig.model_fields["profile"].default]
        options.pop("profile"), reference.pop("profile")
    assert options == reference


def test_judge_option_defaults_are_judge_configs() -> None:
    options = _options(COMMANDS["score"])
    for name, field in JudgeConfig.model_fields.items():
        if name in NOT_OPTIONS:
            continue
        if name == "cache":
            assert options["no_cache"].default is (not field.default)
        else:
            assert options[name].default == field.default, name
    assert options["judge"].default == "local" and options["base_url"].default is None


def test_other_commands_take_no_judge_options() -> None:
    for name in OTHER_COMMANDS:
        assert "judge" not in _options(COMMANDS[name])


@pytest.mark.parametrize("command", ["rank", "serve"])
def test_unknown_strategy_is_exit_2(command: str) -> None:
    where = ["rank", "nope.jsonl"] if command == "rank" else ["serve"]
    proc = run_cli(*where, "--rubric", str(RUBRICS / "helpfulness.yaml"), "--strategy", "swiss",
                   "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1")
    assert proc.returncode == 2, proc.stderr
    assert "unknown strategy 'swiss'; use pointwise | anchor | round_robin" in proc.stderr


@pytest.mark.parametrize(("option", "value"), [("--max-attempts", "0"), ("--timeout", "0"), ("--concurrency", "0"),
                                               ("--criteria-per-call", "some"), ("--timeout", "nan"), ("--timeout", "inf"),
                                               ("--timeout", "1e300"), ("--temperature", "inf"), ("--temperature", "nan"),
                                               ("--min-coverage", "nan"), ("--max-cost", "nan"), ("--max-cost", "inf"),
                                               ("--max-cost", "-1"), ("--max-calls", "-1"), ("--samples", "0"),
                                               ("--concurrency", "-1"), ("--max-tokens", "-5")])
def test_a_value_judge_config_refuses_is_exit_2_naming_the_option(option: str, value: str) -> None:
    proc = run_cli("rubric", "generate", "--data", "d.jsonl", "-o", "r.yaml", "--judge", "openai:m",
                   "--base-url", "http://127.0.0.1:9/v1", option, value)
    assert proc.returncode == 2, proc.stderr
    assert option in proc.stderr and "Traceback" not in proc.stderr


FILE_COMMANDS = ("score", "compare", "rank")
FILE_OPTIONS = {"rubric", "output", "resume", "field", "split"}


def _file_options(command: Command) -> dict[str, tuple[object, ...]]:
    options = _options(command)
    return {n: (tuple(options[n].opts), options[n].default, options[n].multiple) for n in FILE_OPTIONS if n in options}


@pytest.mark.parametrize("name", FILE_COMMANDS)
def test_file_commands_take_the_same_file_options(name: str) -> None:
    options = _file_options(COMMANDS[name])
    assert set(options) == FILE_OPTIONS
    assert options == _file_options(COMMANDS["score"])
    assert "--split" in _options(COMMANDS["eval"])["split"].opts  # eval reads datasets too


def test_file_options_are_declared_only_in_the_options_module() -> None:
    from judgekit.cli import pairwise, score

    for module in (score, pairwise):
        source = inspect.getsource(module)
        for flag in ('"--rubric"', '"--output"', '"--resume"', '"--field"', '"--split"'):
            assert flag not in source, (module.__name__, flag)


# The same settings in Python: refused with the argument's name, not a command-line flag.
@pytest.mark.parametrize(("argument", "value"), [("timeout", float("nan")), ("timeout", float("inf")),
                                                 ("temperature", float("inf")), ("min_coverage", float("nan")),
                                                 ("max_cost", float("nan")), ("max_cost", float("inf")),
                                                 ("concurrency", -1), ("samples", 0), ("concurency", 3)])
def test_a_judge_setting_python_refuses_names_the_argument(argument: str, value: object) -> None:
    with pytest.raises(judgekit.InputError) as caught:
        judgekit.Judge("openai:m", base_url="http://127.0.0.1:9/v1", **{argument: value})
    assert caught.value.field == argument and "--" not in str(caught.value)
    with pytest.raises(judgekit.InputError) as caught:
        judgekit.JudgeSpec("openai:m", base_url="http://127.0.0.1:9/v1", **{argument: value})
    assert caught.value.field == argument


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1.5"])
def test_rubric_refine_numbers_are_finite_and_in_range(value: str) -> None:
    proc = run_cli("rubric", "refine", "r.yaml", "--data", "d.jsonl", "--redundancy", value)
    assert proc.returncode == 2 and "--redundancy" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
