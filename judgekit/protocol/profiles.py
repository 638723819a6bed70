"""Judge profiles: how one family of judge models is asked and how its answer is read.

A profile is a YAML file naming, per mode (pointwise, pairwise), Jinja2 templates (system and
user), an answer parser (judgekit.protocol.answers.AnswerParser) and the answer format told to the judge in
re-asks; plus sampling defaults, whether to ask for log-probabilities, and (rubric-rm) a rubric
generator step. The built-in profiles live in prompts/profiles/NAME/profile.yaml; a user's profile
is any YAML file of the same shape, its templates looked up beside it first, then in prompts/.

Whatever a profile parses ends as the same WireVerdict objects, so scores, pairwise, rank, eval
and rewards work unchanged. Only `judgekit` (the wire schema) can carry several criteria
in one call; native formats answer one criterion per call.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from judgekit.errors import InputError
from judgekit.jsonvalue import JSONObject
from judgekit.llm.base import Completion
from judgekit.protocol.answers import AnswerParser, parse_native
from judgekit.protocol.soft import json_verdict_distribution, native_distribution
from judgekit.protocol.templates import FENCE, call_context, data_nonce, prompts_dir, render_in, row_context, template_source
from judgekit.protocol.wire import (
    PLAIN,
    Forms,
    Mode,
    ParseProblem,
    VerdictForm,
    WireVerdict,
    parse_verdicts,
    verdict_schema,
)
from judgekit.rubric.models import Criterion
from judgekit.rubric.yaml_source import YamlSource, read_yaml, validate_yaml

DEFAULT_PROFILE = "judgekit"


class ModeProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str | None = None  # template file; sees only `fence` (rendered once, then reused)
    user: str  # template file; sees the row (prompt, response(s), criteria, reference, ...)
    parser: AnswerParser
    answer_format: str = ""  # said to the judge in a re-ask and in the two-phase final step


class SamplingDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(None, ge=0.0)
    max_tokens: int | None = Field(None, ge=16)


class GeneratorProfile(BaseModel):
    """A rubric-generator step (OpenRubrics' Rubric-RM): a model writes the rubric for the prompt,
    then the judge judges the responses against it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str | None = None
    user: str
    max_criteria: int = Field(8, ge=1, le=20)
    max_tokens: int = Field(2048, ge=64)


class JudgeProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    models: list[str] = []  # public judge models the profile is written for
    pointwise: ModeProfile | None = None
    pairwise: ModeProfile | None = None
    sampling: SamplingDefaults = SamplingDefaults()
    soft: bool = False  # ask for token log-probabilities by default (P(verdict) kept beside it)
    rubric_generator: GeneratorProfile | None = None
    _folder: Path = PrivateAttr(default=Path("."))
    _fingerprint: str | None = PrivateAttr(default=None)

    @field_validator("pointwise", "pairwise")
    @classmethod
    def _values_fit_mode(cls, spec: ModeProfile | None, info: ValidationInfo) -> ModeProfile | None:
        if spec is not None and spec.parser.type != "json_verdicts":
            try:
                spec.parser.check_values(info.field_name)  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"parser.{exc}") from None
        return spec

    @model_validator(mode="after")
    def _modes(self) -> JudgeProfile:
        if self.pointwise is None and self.pairwise is None:
            raise ValueError("a profile needs 'pointwise' or 'pairwise' (or both)")
        return self

    # ---- what the collector asks of a profile ----------------------------------------------

    @cached_property
    def folder(self) -> Path:
        # Read once: a pydantic private attribute costs an exception on every access, and the
        # folder is read on every judge call. Set by the loader before any use.
        return self._folder

    def mode(self, mode: Mode) -> ModeProfile:
        spec: ModeProfile | None = getattr(self, mode)
        if spec is None:
            raise InputError(f"profile '{self.name}' has no {mode} template; it cannot judge {mode}", field="--profile")
        return spec

    def structured(self, mode: Mode) -> bool:
        return self.mode(mode).parser.type == "json_verdicts"

    def one_per_call(self, mode: Mode) -> bool:
        return not self.structured(mode)

    def answer_schema(self, mode: Mode, ids: list[str], forms: Forms | None = None) -> dict[str, Any] | None:
        """The JSON schema asked for (judgekit), or None: the judge answers in its own format. One
        object per criterion set and forms, shared by every request that asks for it: not to be changed."""
        if not self.structured(mode):
            return None
        return _verdict_schema(mode, tuple(ids), tuple(sorted((forms or {}).items())))

    def cannot_answer(self, mode: Mode, ids: list[str], forms: Forms | None) -> str | None:
        """Why this profile's format has no answer for some criterion's form (a rating, or
        not_applicable), or None. Native formats have neither, except a rating where the parser
        reads numbers (`ratings`); judgekit's schema has both."""
        spec = self.mode(mode)
        if spec.parser.type == "json_verdicts" or not forms:
            return None
        for cid in ids:
            form = forms.get(cid, PLAIN)
            if form.not_applicable:
                return f"profile '{self.name}' has no not_applicable answer; use the judgekit profile"
            if form.choices is not None:
                return f"profile '{self.name}' has no answer naming an option; use the judgekit profile"
            if form.scale is not None and (mode == "pairwise" or not spec.parser.ratings):
                return f"profile '{self.name}' cannot rate a criterion on a scale {mode}; use the judgekit profile"
        return None

    def parse(
        self, payload: str | JSONObject, mode: Mode, ids: list[str], forms: Forms | None = None,
    ) -> tuple[dict[str, WireVerdict], list[str]]:
        spec = self.mode(mode)
        if spec.parser.type == "json_verdicts":
            return parse_verdicts(payload, mode, ids, forms)
        if len(ids) != 1:
            raise ParseProblem(f"profile '{self.name}' answers one criterion per call, not {len(ids)}")
        text = payload if isinstance(payload, str) else json.dumps(payload)
        form = (forms or {}).get(ids[0], PLAIN)
        verdict = parse_native(text, spec.parser, mode, ids[0], spec.answer_format, form)
        return {ids[0]: verdict}, []

    def distribution(self, completion: Completion, mode: Mode, cid: str) -> dict[str, float] | None:
        spec = self.mode(mode)
        if spec.parser.type == "json_verdicts":
            return json_verdict_distribution(completion, mode, cid)
        return native_distribution(completion, spec.parser)

    def fingerprint(self) -> str:
        """Changes whenever the profile's parsing or templates change (part of the cache key). Read
        once per profile: every collector of a run (one per rank group) asks for it."""
        if self._fingerprint is None:
            parts = [self.model_dump_json()]
            for mode in ("pointwise", "pairwise"):
                spec: ModeProfile | None = getattr(self, mode)
                for name in (spec.system, spec.user) if spec else ():
                    if name:
                        parts.append(template_source(self._folder, name))
            self._fingerprint = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]
        return self._fingerprint

    # ---- rendering ---------------------------------------------------------------------------

    def messages(self, mode: Mode, context: Mapping[str, object]) -> list[dict[str, str]]:
        spec = self.mode(mode)
        out = []
        if spec.system:
            out.append({"role": "system", "content": _system_prompt(str(self.folder), spec.system, context["fence"])})
        out.append({"role": "user", "content": render_in(self.folder, spec.user, context)})
        return out


@lru_cache(maxsize=1024)
def _verdict_schema(mode: Mode, ids: tuple[str, ...], forms: tuple[tuple[str, VerdictForm], ...]) -> dict[str, Any]:
    # Built once per criterion set: a run asks the same few sets thousands of times, and a backend
    # can serialize a schema it has seen before once (llm.openai_dialect).
    return verdict_schema(mode, list(ids), dict(forms))


# ---- templates: the profile's folder first, then prompts/ --------------------------------------


@lru_cache(maxsize=64)
def _system_prompt(folder: str, template: str, fence: str) -> str:
    return render_in(Path(folder), template, {"fence": fence})


# ---- finding profiles --------------------------------------------------------------------------


def builtin_dir() -> Path:
    return prompts_dir() / "profiles"


def builtin_profiles() -> list[str]:
    return sorted(p.parent.name for p in builtin_dir().glob("*/profile.yaml"))


def load_profile(name_or_path: str | Path | JudgeProfile | None) -> JudgeProfile:
    """A built-in profile by name, or a user's profile YAML by path. Raises InputError."""
    if isinstance(name_or_path, JudgeProfile):
        return name_or_path
    return _load_cached(str(name_or_path or DEFAULT_PROFILE))


@lru_cache(maxsize=32)
def _load_cached(name: str) -> JudgeProfile:
    path = Path(name)
    builtin = not (name.endswith((".yaml", ".yml")) or path.is_file())
    if builtin:
        path = builtin_dir() / name / "profile.yaml"
        if not path.is_file():
            raise InputError(f"unknown profile {name!r}; built in: {', '.join(builtin_profiles())}, "
                             "or give the path of a profile YAML file", field="--profile")
    source = read_yaml(path, what="profile")
    profile = validate_yaml(source, JudgeProfile)
    profile._folder = path.resolve().parent
    if not builtin:  # the built-in profiles' templates ship with judgekit, checked by its tests, not on every start
        _check_templates(profile, str(path), source)
        _check_fences(profile, str(path), source)
    return profile


def _check_templates(profile: JudgeProfile, file: str, source: YamlSource) -> None:
    """Every template the profile names exists: a typo fails at load, naming its line."""
    from jinja2 import TemplateNotFound

    for mode in ("pointwise", "pairwise", "rubric_generator"):
        spec = getattr(profile, mode)
        for key in ("system", "user"):
            name = getattr(spec, key, None) if spec else None
            if not name:
                continue
            try:
                template_source(profile.folder, name)
            except TemplateNotFound:
                raise InputError(f"template {name!r} not found beside the profile or in prompts/", file=file,
                                 line=source.line_of([mode, key]), field=f"{mode}.{key}") from None


# ---- every data field a template renders sits inside a fence -----------------------------------

_PROBES = {name: f"judgekit fence probe {name}" for name in ("prompt", "response", "response_a", "response_b", "reference")}


def _probe_contexts(profile: JudgeProfile) -> dict[str, dict[str, object]]:
    """The context each of the profile's templates sees, with a probe text in every data field."""
    prompt = [{"role": "user", "content": _PROBES["prompt"]}]
    rows = {"pointwise": {"response": _PROBES["response"]},
            "pairwise": {"response_a": _PROBES["response_a"], "response_b": _PROBES["response_b"]}}
    criteria = [Criterion(id="c1", text="The response is helpful.")]
    out = {mode: call_context(row_context(prompt=prompt, responses=rows[mode], reference=_PROBES["reference"],
                                          rubric_name="r", rubric_description=""), criteria) for mode in rows}
    if profile.rubric_generator is not None:
        out["rubric_generator"] = {"fence": FENCE, "nonce": data_nonce(prompt, _PROBES["reference"]), "instruction":
                                   _PROBES["prompt"], "prompt_messages": prompt, "reference": _PROBES["reference"],
                                   "max_criteria": profile.rubric_generator.max_criteria}
    return out


def _outside_fences(text: str, nonce: str) -> str:
    return re.sub(rf"<{FENCE}-([a-z0-9-]+)-{nonce}>.*?</{FENCE}-\1-{nonce}>", "", text, flags=re.S).lower()


def _check_fences(profile: JudgeProfile, file: str, source: YamlSource) -> None:
    """A template that shows a row's text outside a fence (`{{ fenced("response", response) }}`) is
    refused at load, naming it: that text could pose as the template's own instructions. Checked by
    rendering each template with a probe text in every data field; a template that cannot render
    without a real row is left to fail on one."""
    from jinja2 import TemplateError

    for mode, context in _probe_contexts(profile).items():
        spec = getattr(profile, mode)
        if spec is None:
            continue
        try:
            text = render_in(profile.folder, spec.user, context)
        except (TemplateError, TypeError, ValueError):
            continue
        outside = _outside_fences(text, str(context["nonce"]))
        for name, probe in _PROBES.items():
            if probe in outside:
                fence = name.replace("_", "-")
                raise InputError(f"template {spec.user!r} shows the row's {name} outside a fence, where it could pose as "
                                 f"instructions: write {{{{ fenced(\"{fence}\", {'instruction' if name == 'prompt' else name}) }}}}",
                                 file=file, line=source.line_of([mode, "user"]), field=f"{mode}.user")
