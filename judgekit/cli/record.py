"""The record of what makes a file command's rows (judgekit.data.runrecord), which --resume checks:
the command, the input's content and its --field mapping, the rubric's content, the judge (or panel)
with its servers or, for the embedded judge, its model file's content, the profile, and every judge
setting that changes what a row holds, with the command's own (--explain, --strategy, ...)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from judgekit.cli.options import JudgeOptions
from judgekit.data.rows import FileRows
from judgekit.data.runrecord import RunRecord, digest, public_url
from judgekit.llm.cache import file_digest

# Settings that change how a run goes (speed, retries, the cache, where it stops), not what a row holds.
_RUN_ONLY = {"concurrency", "timeout", "max_attempts", "max_reasks", "cache", "cache_dir", "max_calls", "max_cost",
             "profile"}

Setting = str | int | float | bool | None


def run_record(command: str, rows: FileRows, options: JudgeOptions, rubric: BaseModel | None,
               **settings: Setting) -> RunRecord:
    """`rows`: the input, validated (FileRows.validate, which hashes its content); `rubric`: --rubric
    (None: the rows carry their own); `settings`: the command's own options."""
    config = options.config
    judge_settings = {k: v for k, v in config.model_dump(mode="json").items() if k not in _RUN_ONLY}
    if config.generator_base_url:
        judge_settings["generator_base_url"] = public_url(config.generator_base_url)
    return {
        "command": command,
        "input": rows.content,
        "fields": dict(sorted(rows.mapping.items())),
        "rubric": "the rows' own" if rubric is None else _content(rubric),
        "judge": _judge(options),
        "profile": _profile(config.profile),
        "settings": {**judge_settings, **settings},
        "about": _about(rows, options, rubric),
    }


def _about(rows: FileRows, options: JudgeOptions, rubric: BaseModel | None) -> dict[str, object]:
    """What the run's page shows (never compared by --resume): where the input is, so `judgekit report` finds
    the judged texts; the rubric's criteria with their weights (pitfalls are drawn as flaws); the judge as
    written, its servers without credentials; the date the run started."""
    source = Path(rows.file)
    spec = ", ".join(j.judge for j in options.spec.members) if options.spec.members else options.spec.judge
    dumped = rubric.model_dump(mode="json") if rubric is not None else {}
    criteria = [{k: c.get(k) for k in ("id", "text", "weight", "kind") if k in c} for c in dumped.get("criteria", [])
                if isinstance(c, dict)]
    return {"input_path": str(source.resolve()) if source.exists() else rows.file, "split": rows.split,
            "limit": rows.limit, "judge": spec, "rubric_name": dumped.get("name"), "criteria": criteria,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def model_digest(model: BaseModel | None) -> str | None:
    return None if model is None else _content(model)


def _content(model: BaseModel) -> str:
    # Fields left at their defaults are left out, so a field a later version adds does not make every
    # earlier output look written under another rubric.
    return digest(model.model_dump(mode="json", exclude_defaults=True))


def _judge(options: JudgeOptions) -> dict[str, object]:
    spec, cache_dir = options.spec, options.config.cache_dir
    if spec.judges:
        return {"panel": [{**j.model_dump(mode="json"), "base_url": j.base_url and public_url(j.base_url),
                           **_model_file(j.judge, cache_dir)} for j in spec.judges],
                "aggregate": spec.aggregate}
    if spec.cascade:  # --resume continues only under the same judges, in the same order, at the same threshold
        return {"cascade": [{**j.model_dump(mode="json"), "base_url": j.base_url and public_url(j.base_url),
                             **_model_file(j.judge, cache_dir)} for j in spec.cascade],
                "threshold": spec.threshold, "check_rate": spec.check_rate}
    urls = [spec.base_url] if isinstance(spec.base_url, str) else list(spec.base_url or [])
    return {"spec": spec.judge, "base_url": [public_url(u) for u in urls], **_model_file(spec.judge, cache_dir)}


def _model_file(spec: str, cache_dir: str | None) -> dict[str, str]:
    """The embedded judge's model by content: `local` names no file (JUDGEKIT_LOCAL_MODEL, or the packaged
    model, may change between two runs), and `local:PATH` names one whose weights may. The digest is read
    once per version of the file and kept beside the cache (file_digest), as the cache key's is."""
    kind, _, path = spec.partition(":")
    if kind != "local":
        return {}
    from judgekit.llm.local_llama import check_model_file, default_model_path  # an embedded judge's only

    model = Path(path) if path else default_model_path()
    check_model_file(model, "--judge" if path or not os.environ.get("JUDGEKIT_LOCAL_MODEL") else "JUDGEKIT_LOCAL_MODEL")
    return {"model_sha256": file_digest(model, cache_dir)}


def _profile(profile: str) -> str | dict[str, str]:
    """A built-in profile by name; a profile file by name and content."""
    path = Path(profile)
    if path.is_file():
        return {"file": path.name, "digest": digest(path.read_bytes().decode("utf-8", "replace"))}
    return profile

