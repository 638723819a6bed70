"""Repeated row ids are found the same way for a small input (sorted in Python) and a large one (numpy)."""

from __future__ import annotations

import json

import pytest

from judgekit.data import rows
from judgekit.data.rows import IdHashes, _id_hash
from judgekit.errors import InputError


def _repeated(n: int) -> set[int]:
    hashes = IdHashes()
    for i in range(n):
        hashes.add(f"r{i}")
    for i in (3, 7, 7):
        hashes.add(f"r{i}")
    return hashes.repeated()


def test_small_and_large_inputs_find_the_same_repeated_ids() -> None:
    expected = {_id_hash("r3"), _id_hash("r7")}
    assert _repeated(10) == expected
    assert _repeated(rows._SORTED_IN_PYTHON + 1) == expected
    assert IdHashes().repeated() == set()


@pytest.mark.parametrize("bad", [True, 1.5, [1], {"a": 1}])
def test_a_file_row_id_that_is_not_a_string_or_an_integer_is_named_by_line(tmp_path, bad: object) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "p", "response": "r"}) + "\n"
                    + json.dumps({"id": bad, "prompt": "p", "response": "r"}) + "\n")
    with pytest.raises(InputError) as raised:
        rows.read_jsonl(path, required=("prompt", "response"))
    assert (raised.value.line, raised.value.field) == (2, "id")


def test_rows_given_in_python_keep_their_ids_and_get_their_position_without_one() -> None:
    given = rows.to_input_rows([{"id": 1.5, "prompt": "p", "response": "r"}, {"prompt": "p", "response": "r"}],
                               ("prompt", "response"))
    assert [row.id for row in given] == [1.5, 1]
