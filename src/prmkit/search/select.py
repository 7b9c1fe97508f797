"""Choosing one solution among candidates: pure functions of answers and scores.

Each `pick_*` returns the index of the chosen candidate. A candidate that states no
final answer (answer None) can never be right, so it is chosen only when no candidate
states one. Ties are broken by `rank` (lower wins): pass a random permutation's ranks
(`tie_ranks`) for seeded random tie-breaking; without it, ties go to the earliest
candidate. With 0/1 PRM scores nearly every candidate ties, and then the earliest
candidate wins whenever the file lists solutions in an order that carries
information (by model, say), so reranking a file uses random ranks.

`choice_probs` gives the exact probability that each candidate is chosen when the
ranks are a uniformly random permutation; the expected accuracy over tie-breaking is
then sum_i p_i * correct_i, free of any seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

_DIGITS = 9  # weighted totals equal to 9 decimals tie (float sums depend on order)


def tie_ranks(n: int, rng: random.Random) -> list[int]:
    """A uniformly random permutation's ranks: rank[i] is candidate i's tie-break priority."""
    order = list(range(n))
    rng.shuffle(order)
    ranks = [0] * n
    for r, i in enumerate(order):
        ranks[i] = r
    return ranks


def _ranks(n: int, rank: Sequence[int] | None) -> Sequence[int]:
    return range(n) if rank is None else rank


def pick_best(
    answers: Sequence[str | None], scores: Sequence[float], rank: Sequence[int] | None = None
) -> int:
    """Best-of-N: the highest score, preferring candidates that state an answer."""
    if not answers:
        raise ValueError("no candidates")
    r = _ranks(len(answers), rank)
    return max(range(len(answers)), key=lambda i: (answers[i] is not None, scores[i], -r[i]))


def answer_totals(answers: Sequence[str | None], weights: Sequence[float]) -> dict[str, float]:
    """total(a) = sum of w_i over candidates i whose answer is a (None never counts)."""
    totals: dict[str, float] = {}
    for a, w in zip(answers, weights):
        if a is not None:
            totals[a] = totals.get(a, 0.0) + float(w)
    return {a: round(t, _DIGITS) for a, t in totals.items()}


def pick_weighted(
    answers: Sequence[str | None], weights: Sequence[float], rank: Sequence[int] | None = None
) -> int:
    """Weighted self-consistency: the answer with the largest total weight.

    total(a) = sum of w_i over candidates i whose answer is a (Li et al. 2023, "Making
    Large Language Models Better Reasoners with Step-Aware Verifier"; Uesato et al.
    2022). Tied answers go to the one holding the best-ranked candidate. Returns the
    highest-weighted candidate carrying the winning answer.
    """
    if not answers:
        raise ValueError("no candidates")
    r = _ranks(len(answers), rank)
    totals = answer_totals(answers, weights)
    if not totals:
        return pick_best(answers, weights, rank)
    first = {}
    for i, a in enumerate(answers):
        if a is not None:
            first[a] = min(first.get(a, r[i]), r[i])
    win = max(totals, key=lambda a: (totals[a], -first[a]))
    return pick_best([a if a == win else None for a in answers], weights, rank)


def pick_vote(answers: Sequence[str | None], rank: Sequence[int] | None = None) -> int:
    """Majority vote (self-consistency, Wang et al. 2023): a candidate with the most
    frequent answer."""
    return pick_weighted(answers, [1.0] * len(answers), rank)


def _best_probs(answers: Sequence[str | None], scores: Sequence[float]) -> list[float]:
    key = [(a is not None, s) for a, s in zip(answers, scores)]
    top = max(key)
    tied = [k == top for k in key]
    return [t / sum(tied) for t in tied]


def choice_probs(
    method: str, answers: Sequence[str | None], scores: Sequence[float] | None
) -> list[float]:
    """P(candidate i is chosen) by `method` (bon, vote, weighted-vote) under uniformly
    random tie-breaking.

    bon: uniform over the top-scored candidates. vote / weighted-vote: among answers
    tied for the largest total, answer a wins with probability n_a / sum_b n_b (the
    best-ranked of their candidates is uniform over them); within it, uniform over its
    top-scored candidates (exchangeable, so conditioning on a winning changes nothing).
    """
    if not answers:
        raise ValueError("no candidates")
    if method == "bon":
        if scores is None:
            raise ValueError("bon needs scores")
        return _best_probs(answers, scores)
    weights = [1.0] * len(answers) if method == "vote" else scores
    if weights is None:
        raise ValueError(f"{method} needs scores")
    totals = answer_totals(answers, weights)
    if not totals:
        return _best_probs(answers, weights)
    best = max(totals.values())
    tied = {a for a, t in totals.items() if t == best}
    counts = {a: sum(x == a for x in answers) for a in tied}
    probs = [0.0] * len(answers)
    for a in tied:
        members = [i for i, x in enumerate(answers) if x == a]
        within = _best_probs([a] * len(members), [weights[i] for i in members])
        for i, p in zip(members, within):
            probs[i] = p * counts[a] / sum(counts.values())
    return probs
