"""Repeated row ids are found the same way for a small input (sorted in Python) and a large one (numpy)."""

from __future__ import annotations

from judgekit.data import rows
from judgekit.data.rows import IdHashes, _id_hash


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
