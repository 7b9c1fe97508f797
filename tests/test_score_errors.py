"""A solution the PRM cannot read is named by its record number, not only its file."""

import pytest

from prmkit.prm.base import score_in_chunks


class PickyScorer:
    kind = "picky"

    def score(self, items):
        for _, steps in items:
            if any("÷" in s for s in steps):
                raise ValueError("character '÷' is outside the vocabulary")
        return [[1.0] * len(steps) for _, steps in items]


def test_unreadable_solution_is_named_by_record():
    items = [("p", ["1+1=2"])] * 5 + [("p", ["6÷3=2"])] + [("p", ["ok"])]
    with pytest.raises(ValueError, match=r"^record 6: character '÷' is outside the vocabulary$"):
        score_in_chunks(PickyScorer(), items, chunk=4)


def test_readable_items_score_as_one_call():
    items = [("p", ["a", "b"]), ("p", ["c"])]
    assert score_in_chunks(PickyScorer(), items, chunk=1) == [[1.0, 1.0], [1.0]]
