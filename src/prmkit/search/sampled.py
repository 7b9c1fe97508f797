"""Methods that sample N complete solutions, then choose one: bon, vote, weighted-vote.

All three draw the same pool for the same seed: N solutions per problem, each graded
exactly and (bon, weighted-vote) scored once by the PRM. Curves over N are cheap: the
accuracy at a smaller size k is the mean over `curve_draws` random k-subsets of the
pool (without replacement), and the compute at k is the mean compute of those
subsets. This estimates E[accuracy of the method with k fresh samples] without
sampling again, since the N samples are i.i.d. draws from the policy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from prmkit.data import Problem, Sample
from prmkit.grade import sample_problems
from prmkit.models.generator import Generator, SamplingParams
from prmkit.prm.base import StepScorer
from prmkit.search.core import (
    SearchRecord,
    SearchSettings,
    agg_label,
    need_scorer,
    score_items,
    solution_score,
)
from prmkit.search.select import pick_best, pick_vote, pick_weighted


@dataclass
class Pool:
    """N graded solutions of one problem, their generated tokens, and (if scored) their
    per-step PRM scores and PRM input tokens."""

    problem: Problem
    samples: list[Sample]
    tokens: list[int]
    scores: list[list[float]] | None = None
    prm_tokens: list[int] | None = None

    @property
    def answers(self) -> list[str | None]:
        return [s.final_answer for s in self.samples]


def sample_pools(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[Pool]:
    """Sample s.n solutions per problem (batched), grade them, and score them if a scorer is given."""
    params = SamplingParams(s.n, s.max_new_tokens, s.temperature, s.top_p, seed=s.seed)
    flat, _ = sample_problems(policy, problems, params, s.world, s.chunk, progress)
    pools = []
    for i, p in enumerate(problems):
        part = flat[i * s.n : (i + 1) * s.n]
        pools.append(Pool(p, part, [x.meta["n_tokens"] for x in part]))
    if scorer is not None:
        # One batched PRM call per chunk of problems. An empty generation is graded as
        # one empty step; the PRM sees it as such.
        for c in range(0, len(pools), s.chunk):
            part = pools[c : c + s.chunk]
            scores, ptoks = score_items(
                scorer, [(q.problem.prompt, x.steps) for q in part for x in q.samples]
            )
            for k, pool in enumerate(part):
                pool.scores, pool.prm_tokens = (
                    scores[k * s.n : (k + 1) * s.n],
                    ptoks[k * s.n : (k + 1) * s.n],
                )
    return pools


def choose(
    method: str,
    answers: list[str | None],
    scores: list[float] | None,
    rank: list[int] | None = None,
) -> int:
    """Index of the chosen candidate for bon, vote or weighted-vote; ties by `rank`
    (lower wins; None: the earliest candidate)."""
    if method == "vote":
        return pick_vote(answers, rank)
    if scores is None:
        raise ValueError(f"method {method!r} needs scores")
    pick = pick_best if method == "bon" else pick_weighted
    return pick(answers, scores, rank)


def curve_sizes(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    sizes, k = [], 1
    while k < n:
        sizes.append(k)
        k *= 2
    return sizes + [n]


def pool_curve(
    method: str, pool: Pool, agg_scores: list[float] | None, draws: int, rng: random.Random
) -> dict:
    """{size: {"accuracy", "tokens", "prm_tokens"}}: means over random subsets of the pool."""
    n = len(pool.samples)
    prm = pool.prm_tokens if method != "vote" and pool.prm_tokens is not None else [0] * n
    out = {}
    for k in curve_sizes(n):
        subsets = [list(range(n))] if k == n else [rng.sample(range(n), k) for _ in range(draws)]
        acc = tok = ptok = 0.0
        for sub in subsets:
            sc = None if agg_scores is None else [agg_scores[i] for i in sub]
            j = sub[choose(method, [pool.answers[i] for i in sub], sc)]
            acc += bool(pool.samples[j].correct)
            tok += sum(pool.tokens[i] for i in sub)
            ptok += sum(prm[i] for i in sub)
        m = len(subsets)
        out[str(k)] = {"accuracy": acc / m, "tokens": tok / m, "prm_tokens": ptok / m}
    return out


def records_from_pools(
    method: str, pools: list[Pool], scorer: StepScorer | None, s: SearchSettings
) -> list[SearchRecord]:
    """Choose one solution per pool by `method`, with compute and (optionally) the curve."""
    label = "vote" if method == "vote" else f"{method}-{agg_label(scorer, s.aggregate)}"
    records = []
    for i, pool in enumerate(pools):
        agg = (
            None
            if method == "vote" or pool.scores is None
            else [solution_score(scorer, s.aggregate, sc) for sc in pool.scores]
        )
        j = choose(method, pool.answers, agg)
        x = pool.samples[j]
        rng = random.Random(s.seed * 1_000_003 + i)
        curve = pool_curve(method, pool, agg, s.curve_draws, rng) if s.curve else None
        records.append(
            SearchRecord(
                problem_id=pool.problem.id,
                method=method,
                label=label,
                n=s.n,
                answer=x.final_answer,
                correct=bool(x.correct),
                steps=x.steps,
                score=None if agg is None else agg[j],
                tokens=sum(pool.tokens),
                prm_tokens=0
                if method == "vote" or pool.prm_tokens is None
                else sum(pool.prm_tokens),
                candidates=len(pool.samples),
                curve=curve,
                meta={"pass_at_n": any(bool(y.correct) for y in pool.samples)},
            )
        )
    return records


def bon(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[SearchRecord]:
    """Best-of-N: the solution with the highest aggregated PRM score (an ORM: its score)."""
    scorer = need_scorer(scorer, "bon")
    return records_from_pools("bon", sample_pools(policy, scorer, problems, s, progress), scorer, s)


def vote(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[SearchRecord]:
    """Majority vote over final answers; no reward model is used (nor its compute)."""
    return records_from_pools("vote", sample_pools(policy, None, problems, s, progress), None, s)


def weighted_vote(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[SearchRecord]:
    """Weighted self-consistency: answers weighted by their solutions' aggregated PRM scores."""
    scorer = need_scorer(scorer, "weighted-vote")
    return records_from_pools(
        "weighted-vote", sample_pools(policy, scorer, problems, s, progress), scorer, s
    )
