"""The record of what makes a file command's rows (judgekit.data.runrecord), which --resume checks:
the command, the rubric's content, the judge (or panel) and its servers, the profile, and every judge
setting that changes what a row holds, with the command's own (--explain, --strategy, ...)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from judgekit.cli.options import JudgeOptions
from judgekit.data.runrecord import RunRecord, digest, public_url

# Settings that change how a run goes (speed, retries, the cache, where it stops), not what a row holds.
_RUN_ONLY = {"concurrency", "timeout", "max_attempts", "max_reasks", "cache", "cache_dir", "max_calls", "max_cost",
             "profile"}

Setting = str | int | float | bool | None


def run_record(command: str, options: JudgeOptions, rubric: BaseModel | None, **settings: Setting) -> RunRecord:
    """`rubric`: --rubric (None: the rows carry their own); `settings`: the command's own options."""
    config = options.config
    judge_settings = {k: v for k, v in config.model_dump(mode="json").items() if k not in _RUN_ONLY}
    if config.generator_base_url:
        judge_settings["generator_base_url"] = public_url(config.generator_base_url)
    return {
        "command": command,
        "rubric": "the rows' own" if rubric is None else _content(rubric),
        "judge": _judge(options),
        "profile": _profile(config.profile),
        "settings": {**judge_settings, **settings},
    }


def model_digest(model: BaseModel | None) -> str | None:
    return None if model is None else _content(model)


def _content(model: BaseModel) -> str:
    return digest(model.model_dump(mode="json"))


def _judge(options: JudgeOptions) -> dict[str, object]:
    if options.panel is not None:
        return {"panel": [{**j.model_dump(mode="json"), "base_url": j.base_url and public_url(j.base_url)}
                          for j in options.panel.judges], "aggregate": options.panel.aggregate}
    urls = [options.base_url] if isinstance(options.base_url, str) else options.base_url or []
    return {"spec": options.spec, "base_url": [public_url(u) for u in urls]}


def _profile(profile: str) -> str | dict[str, str]:
    """A built-in profile by name; a profile file by name and content."""
    path = Path(profile)
    if path.is_file():
        return {"file": path.name, "digest": digest(path.read_bytes().decode("utf-8", "replace"))}
    return profile

