"""Choosing one solution among candidates: pure functions of answers and scores.

Each returns the index of the chosen candidate. A candidate that states no final
answer (answer None) can never be right, so it is chosen only when no candidate
states one. Ties go to the earliest candidate, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence


def pick_best(answers: Sequence[str | None], scores: Sequence[float]) -> int:
    """Best-of-N: the highest score, preferring candidates that state an answer."""
    if not answers:
        raise ValueError("no candidates")
    return max(range(len(answers)), key=lambda i: (answers[i] is not None, scores[i], -i))


def pick_weighted(answers: Sequence[str | None], weights: Sequence[float]) -> int:
    """Weighted self-consistency: the answer with the largest total weight.

    total(a) = sum of w_i over candidates i whose answer is a (Li et al. 2023, "Making
    Large Language Models Better Reasoners with Step-Aware Verifier"; Uesato et al.
    2022). Returns the highest-weighted candidate carrying the winning answer.
    """
    if not answers:
        raise ValueError("no candidates")
    totals: dict[str, float] = {}
    for a, w in zip(answers, weights):
        if a is not None:
            totals[a] = totals.get(a, 0.0) + float(w)
    if not totals:
        return pick_best(answers, weights)
    order = list(totals)  # first appearance breaks ties
    win = max(order, key=lambda a: (totals[a], -order.index(a)))
    return pick_best([a if a == win else None for a in answers], weights)


def pick_vote(answers: Sequence[str | None]) -> int:
    """Majority vote (self-consistency, Wang et al. 2023): the first candidate with the
    most frequent answer."""
    return pick_weighted(answers, [1.0] * len(answers))
