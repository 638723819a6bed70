"""Judge prompts: Jinja2 templates under prompts/, rendered in a sandbox into chat messages.

The one template environment of judgekit: judge prompts, generation prompts and the refine report
(`.html.j2` templates are HTML-escaped) are all rendered here. The templates ship inside the wheel
as judgekit/prompts; in a source checkout they are read from the repository's top-level prompts/
folder. A user's judge profile may keep templates beside its YAML file: those are looked up there
first, then in prompts/.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from judgekit.data.rows import as_messages
from judgekit.data.transcript import Text, response_text
from judgekit.protocol.wire import Mode
from judgekit.rubric.models import MET_WORDS, Criterion

if TYPE_CHECKING:  # Jinja2 itself is imported when the first template is rendered, not with judgekit
    from jinja2 import Template
    from jinja2.runtime import Context
    from jinja2.sandbox import SandboxedEnvironment

FENCE = "judgekit"
# Names by which a response can say which model or lab wrote it. Judges prefer some of them (and
# their own family); --mask-names replaces them in the judged responses before the judge sees them.
_MODEL_NAMES = re.compile(
    r"\b(?:ChatGPT|GPT-?[345](?:\.\d)?(?:-?(?:turbo|o|mini))*|OpenAI|Claude(?:[ -]\d(?:\.\d)?)?|Anthropic|Gemini|Bard|"
    r"Google DeepMind|DeepMind|Gemma|LLaMA(?:[ -]?\d(?:\.\d)?)?|Meta AI|Mistral|Mixtral|Qwen\d*(?:\.\d)?|Alibaba Cloud|"
    r"DeepSeek|Vicuna|Alpaca|Copilot)\b",
    re.IGNORECASE,
)
MASK = "[model]"


def mask_model_names(text: str) -> str:
    return _MODEL_NAMES.sub(MASK, text)


def prompts_dir() -> Path:
    packaged = Path(str(resources.files("judgekit"))) / "prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "prompts"


# What a plain dict has as attributes (`items`, `get`, ...): for any other name, `x.name` on a
# dict can only be its item.
_DICT_ATTRIBUTES = frozenset(dir(dict))


@lru_cache(maxsize=1)
def _environment_class() -> type[SandboxedEnvironment]:
    from jinja2.sandbox import SandboxedEnvironment

    class _Environment(SandboxedEnvironment):
        def getattr(self, obj: object, attribute: str) -> object:
            # `c.id` on a dict (every view judgekit renders is one) is its item, as Jinja would find
            # it, but at once: Jinja looks for the attribute first and takes the item only after the
            # AttributeError, which was 40% of the cost of rendering a judge prompt.
            if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return super().getattr(obj, attribute)

        def make_globals(self, d: MutableMapping[str, object] | None) -> MutableMapping[str, object]:
            # A plain dict, not Jinja's ChainMap: every render copies a template's globals into its
            # context, and copying a ChainMap was half the cost of rendering a judge prompt. Nothing
            # changes the globals once templates are loaded.
            return {**self.globals, **(d or {})}

    return _Environment


@lru_cache(maxsize=32)
def environment(folder: str | None = None) -> SandboxedEnvironment:
    """The environment reading prompts/ (and first `folder`, a user's profile folder, if given)."""
    from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, StrictUndefined, pass_context, select_autoescape

    loader: BaseLoader = FileSystemLoader(str(prompts_dir()))
    if folder is not None:
        loader = ChoiceLoader([FileSystemLoader(folder), loader])
    env = _environment_class()(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False, default=False),
        keep_trailing_newline=False,
        # Templates are read once per process: no check of each file's mtime on every judge call.
        auto_reload=False,
    )
    env.globals["fenced"] = pass_context(fenced)
    return env


@lru_cache(maxsize=256)
def _template(folder: str | None, name: str) -> Template:
    # Looked up once: Jinja's own template cache takes a lock and reorders its LRU queue on every
    # hit, for a template that (auto_reload off) never changes.
    return environment(folder).get_template(name)


def render_in(folder: Path | None, template: str, context: Mapping[str, object]) -> str:
    """A template looked up in `folder` first (None: prompts/ only), rendered and stripped."""
    return _template(None if folder is None else str(folder), template).render(context).strip()


def render(template: str, **context: object) -> str:
    return render_in(None, template, context)


def template_source(folder: Path | None, template: str) -> str:
    """The text of the template `render_in(folder, template, ...)` would render."""
    env = environment(None if folder is None else str(folder))
    assert env.loader is not None
    return env.loader.get_source(env, template)[0]


@lru_cache(maxsize=4096)  # a row's calls (one per criterion) fence the same texts
def nonce(*texts: str) -> str:
    """A tag suffix derived from the fenced texts themselves: a text cannot contain its own hash,
    so it cannot close the fence, and the prompt stays deterministic (cacheable)."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
    return digest[:12]


def data_nonce(*values: object) -> str:
    """The nonce of every text in `values` (strings, and the strings inside mappings and lists: a
    message's role as well as its content), so no field that reaches the prompt can hold the
    fence's tag."""
    return nonce(*_texts(values))


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for key, item in value.items() for t in (*_texts(key), *_texts(item))]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _texts(item)]
    return [] if value is None else [str(value)]


_FENCE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def fenced(context: Context, name: str, text: object) -> str:
    """`{{ fenced("response", response) }}`: the text between nonce-bearing tags, the one way a
    template (a user profile's too) puts data in front of the judge. The nonce hashes every data
    field of the call, so no data can close or imitate the tags; a text holding them anyway (one
    the renderer did not hash) is refused, never sent."""
    if not _FENCE_NAME.match(name):
        raise ValueError(f"a fence name is lowercase words joined by '-', got {name!r}")
    tag = f"{context['fence']}-{name}-{context['nonce']}"
    body = "" if text is None else str(text)
    if f"<{tag}>" in body or f"</{tag}>" in body:
        raise ValueError(f"the text to fence as {name!r} holds its fence's tag")
    return f"<{tag}>\n{body}\n</{tag}>"


def criterion_view(c: Criterion, shuffle: str = "") -> dict[str, object]:
    """What a template sees of a criterion. Choices and examples are keys only of the criteria that
    have them: the view is hashed into the fence's nonce, which stays as it was for the others."""
    scale = None if c.scale is None else {
        "min": c.scale.min, "max": c.scale.max, "labels": [{"point": k, "text": v} for k, v in sorted(c.scale.labels.items())],
    }
    view = {"id": c.cid, "text": c.display_text, "pitfall": c.weight < 0, "hard_rule": c.kind == "hard_rule",
            "scale": scale, "not_applicable": c.not_applicable}
    if c.choices is not None:
        view["choices"] = shuffled_labels(c, shuffle)
    if c.examples:
        view["examples"] = [{"response": response_text(e.response, "full"), "verdict": _shown_verdict(e.verdict),
                             "reason": e.reason} for e in c.examples]
    return view


def shuffled_labels(c: Criterion, seed: str) -> list[str]:
    """A criterion's option labels in the order shown to the judge: shuffled against position bias, by
    a seed made of the row's content and the criterion's id, so one row's call stays the same (cached)."""
    assert c.choices is not None
    key = f"{seed}\x00{c.cid}\x00"
    return sorted((o.label for o in c.choices), key=lambda label: hashlib.sha256((key + label).encode("utf-8")).digest())


def _shown_verdict(verdict: bool | int | str) -> str:
    if isinstance(verdict, bool):
        return "MET" if verdict else "UNMET"
    if isinstance(verdict, str) and verdict.lower() in MET_WORDS:
        return "MET" if MET_WORDS[verdict.lower()] else "UNMET"
    return str(verdict)


def row_context(
    *, prompt: Text, responses: dict[str, str], reference: str | None, rubric_name: str, rubric_description: str,
    mask_names: bool = False,
) -> dict[str, object]:
    """The part of a call's template context that every criterion of a row shares: made once per
    row, each call adding its own criteria (`call_context`), which makes the call's nonce."""
    if mask_names:
        responses = {key: mask_model_names(text) for key, text in responses.items()}
    prompt_messages = as_messages(prompt)
    tag = data_nonce(prompt_messages, responses, reference, rubric_name, rubric_description)
    return {
        "fence": FENCE,
        "nonce": tag,
        "prompt_messages": prompt_messages,
        # Native templates: the conversation as one text.
        "instruction": instruction_text(prompt_messages),
        **responses,
        "reference": reference,
        "rubric_name": rubric_name,
        "rubric_description": rubric_description,
    }


def criteria_context(criteria: list[Criterion], shuffle: str = "") -> dict[str, object]:
    """The part of a call's template context that is its criteria (`shuffle`: the seed of their options' order)."""
    views = [criterion_view(c, shuffle) for c in criteria]
    rated = [c.scale.max for c in criteria if c.scale is not None]
    return {
        # Native templates: the one criterion of the call.
        "criterion": views[0] if views else None,
        "criteria": views,
        "ids": [c.cid for c in criteria],
        # Said once after the list: Jinja's selectattr over the views cost more than the rest of
        # the template put together (benchmarks/throughput.py renders 3000 of them).
        "rating_example": rated[0] if rated else None,
        "any_not_applicable": any(c.not_applicable for c in criteria),
        "any_choices": any(c.choices is not None for c in criteria),
        "any_examples": any(c.examples for c in criteria),
    }


def call_context(row: Mapping[str, object], criteria: list[Criterion]) -> dict[str, object]:
    """A call's template context: the row's part (`row_context`) and the call's criteria, under a nonce of
    both. A criterion's texts are the rubric's instructions and stay outside the fences, but a row may
    bring its own rubric: hashed too, no criterion text can hold the tags (and no row text can guess
    them from the rest of the row)."""
    row_nonce = row["nonce"]
    assert isinstance(row_nonce, str)  # row_context's
    asked = criteria_context(criteria, row_nonce)
    return {**row, **asked, "nonce": data_nonce(row_nonce, asked["criteria"])}


def _context(
    *, prompt: Text, responses: dict[str, str], criteria: list[Criterion], reference: str | None,
    rubric_name: str, rubric_description: str, mask_names: bool = False,
) -> dict[str, object]:
    row = row_context(prompt=prompt, responses=responses, reference=reference, rubric_name=rubric_name,
                      rubric_description=rubric_description, mask_names=mask_names)
    return call_context(row, criteria)


def instruction_text(messages: list[dict[str, str]]) -> str:
    """A conversation as one instruction: the user's text alone for a single turn, else each turn
    labelled with its role."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


class MessageTemplates(Protocol):
    """What turns a call's context into chat messages: a judge profile's templates for the mode."""

    def messages(self, mode: Mode, context: Mapping[str, object]) -> list[dict[str, str]]: ...


def pointwise_messages(
    *, prompt: Text, response: str, criteria: list[Criterion], reference: str | None,
    rubric_name: str, rubric_description: str, profile: MessageTemplates, mask_names: bool = False,
) -> list[dict[str, str]]:
    """The chat messages of one pointwise call, in the profile's templates."""
    context = _context(
        prompt=prompt, responses={"response": response}, criteria=criteria, reference=reference,
        rubric_name=rubric_name, rubric_description=rubric_description, mask_names=mask_names,
    )
    return profile.messages("pointwise", context)


def pairwise_messages(
    *, prompt: Text, response_a: str, response_b: str, criteria: list[Criterion], reference: str | None,
    rubric_name: str, rubric_description: str, profile: MessageTemplates, mask_names: bool = False,
) -> list[dict[str, str]]:
    """The chat messages of one pairwise call (A's text first), in the profile's templates."""
    context = _context(
        prompt=prompt, responses={"response_a": response_a, "response_b": response_b}, criteria=criteria,
        reference=reference, rubric_name=rubric_name, rubric_description=rubric_description, mask_names=mask_names,
    )
    return profile.messages("pairwise", context)


def reask_message(problem: str, ids: list[str], answer_format: str | None = None) -> dict[str, str]:
    """The follow-up turn after an answer that could not be used: ask again for the JSON verdicts
    of `ids`, or (a native profile) for the answer in `answer_format`."""
    if answer_format is None:
        return {"role": "user", "content": render("reask.j2", problem=problem, ids=ids)}
    return {"role": "user", "content": render("reask_native.j2", problem=problem, answer_format=answer_format)}
