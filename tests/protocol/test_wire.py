"""The wire schema (docs/rubrics-and-formats.md): the schema asked for and the tolerant reading of replies."""

import pytest

from judgekit.llm.openai_dialect import response_format
from judgekit.protocol.wire import (
    PLAIN,
    ParseProblem,
    VerdictForm,
    extract_json_object,
    forms_of,
    parse_verdicts,
    verdict_schema,
)
from judgekit.rubric.models import rubric_from_data


def test_pointwise_schema_shape():
    s = verdict_schema("pointwise", ["a", "b"])
    item = s["properties"]["verdicts"]["items"]
    assert item["properties"]["criterion_id"]["enum"] == ["a", "b"]
    assert list(item["properties"]) == ["criterion_id", "reasoning", "met"]  # reasoning before verdict
    assert item["properties"]["met"] == {"type": "boolean"}
    assert response_format("json_schema", s)["json_schema"]["schema"] == s


def test_pairwise_schema_shape():
    item = verdict_schema("pairwise", ["a"])["properties"]["verdicts"]["items"]
    assert item["properties"]["preference"]["enum"] == ["A", "B", "tie"]


def test_last_fenced_object_wins():
    text = 'first {"verdicts": []}\n```json\n{"verdicts": [{"criterion_id": "a", "reasoning": "r", "met": true}]}\n```'
    found, _ = parse_verdicts(text, "pointwise", ["a"])
    assert found["a"].value is True


def test_bare_object_after_think_block():
    text = '<think>{"verdicts": [{"criterion_id": "a", "met": false}]}</think> answer: {"verdicts": [{"criterion_id": "a", "reasoning": "x", "met": true}]} done'
    found, _ = parse_verdicts(text, "pointwise", ["a"])
    assert found["a"].value is True


def test_no_json_is_a_problem():
    with pytest.raises(ParseProblem):
        extract_json_object("I think it is fine.")


def test_unknown_ids_and_bad_values_are_dropped_with_problems():
    payload = {"verdicts": [{"criterion_id": "zzz", "met": True}, {"criterion_id": "a", "met": "maybe"}, {"criterion_id": "b", "reasoning": "", "met": False}]}
    found, problems = parse_verdicts(payload, "pointwise", ["a", "b"])
    assert set(found) == {"b"} and found["b"].value is False
    assert len(problems) == 2


def test_preferences_normalised():
    payload = {"verdicts": [{"criterion_id": "a", "reasoning": "", "preference": "Tie"}, {"criterion_id": "b", "reasoning": "", "preference": "C"}]}
    found, problems = parse_verdicts(payload, "pairwise", ["a", "b"])
    assert found["a"].value == "tie" and "b" not in found and problems


def test_embedded_grammar_pins_one_verdict_per_id_in_order():
    from judgekit.llm.local_llama import REASONING_PATTERN, grammar_schema

    g = grammar_schema(verdict_schema("pairwise", ["a", "b"]))["properties"]["verdicts"]
    assert g["items"] is False and [i["properties"]["criterion_id"] for i in g["prefixItems"]] == [{"const": "a"}, {"const": "b"}]
    assert g["prefixItems"][1]["properties"]["preference"]["enum"] == ["A", "B", "tie"]
    assert g["prefixItems"][0]["properties"]["reasoning"]["pattern"] == REASONING_PATTERN
    other = {"type": "object", "properties": {"criteria": {"type": "array"}}}
    assert grammar_schema(other) == other  # generation schemas pass through unchanged


def test_a_reply_that_is_one_object_is_that_object():
    reply = ' \n{"verdicts": [{"criterion_id": "a", "reasoning": "the {braces} and \\"quotes\\"", "met": true}]}\n'
    assert extract_json_object(reply) == {"verdicts": [{"criterion_id": "a", "reasoning": 'the {braces} and "quotes"', "met": True}]}


def test_an_object_holding_a_think_block_is_read_as_before():
    # The tolerant reading (think blocks taken out first) still decides a reply with a think tag.
    assert extract_json_object('{"a": "<think>x</think>", "b": 1}') == {"a": "", "b": 1}


@pytest.mark.parametrize("extra", [{}, {"scale": {"min": 1, "max": 5}}, {"not_applicable": True},
                                   {"scale": {"min": 0, "max": 3}, "not_applicable": True}])
def test_a_criterion_is_plain_exactly_when_its_form_is_plain(extra):
    [criterion] = rubric_from_data({"name": "r", "criteria": [{"id": "a", "text": "A", **extra}]}).criteria
    assert VerdictForm.is_plain(criterion) == (VerdictForm.of(criterion) == PLAIN)
    assert forms_of([criterion]) == ({} if not extra else {"a": VerdictForm.of(criterion)})
