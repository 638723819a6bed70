"""The template environment: `x.name` on a dict is its item, read at once, without changing what
Jinja would render, and the sandbox still refuses what it refused."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from judgekit.protocol.templates import environment


def render(source: str, **context: object) -> str:
    return environment().from_string(source).render(context)


def test_a_dict_item_by_attribute_renders_as_jinja_would() -> None:
    view = {"id": "c1", "text": "Cites a source.", "scale": {"min": 1, "max": 5}}
    assert render("{{ c.id }}: {{ c.text }} ({{ c.scale.min }}-{{ c.scale.max }})", c=view) == "c1: Cites a source. (1-5)"


def test_a_dict_method_stays_a_method_even_when_a_key_has_its_name() -> None:
    row = {"items": "a key called items", "b": 2}
    assert render("{% for k, v in row.items() %}{{ k }}={{ v }};{% endfor %}", row=row) == "items=a key called items;b=2;"
    assert render("{{ row.get('b') }}", row=row) == "2"


def test_a_missing_key_is_still_undefined() -> None:
    with pytest.raises(UndefinedError):
        render("{{ c.missing }}", c={"id": "c1"})


def test_the_sandbox_still_refuses_internals_of_a_dict() -> None:
    with pytest.raises(SecurityError):
        render("{{ c.__class__.__subclasses__() }}", c={"id": "c1"})
