"""Rerank solutions one already has: bon, vote and weighted-vote over a file, no policy.

The file's samples are grouped by problem (file order kept), the first N of each
group are the candidates, the PRM scores every candidate once, and one is chosen
(`prmkit.search.select`). Ties are broken by a seeded random permutation per problem,
never by file order: files often list solutions by model, and with 0/1 scores the
earliest candidate would then win most problems.

Beside the seeded choice every record carries the exact expectation over
tie-breaking (`choice_probs`), and three baselines on the same candidates:
first-sample (the first candidate in file order), majority vote, and the oracle
(any candidate correct, pass@N).

Correctness comes from the world's grader when a sample has a reference answer,
else from the sample's own `correct` (ProcessBench's `final_answer_correct`, say).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from tqdm import tqdm

from prmkit.data import Sample
from prmkit.grade import graded_sample
from prmkit.prm.base import StepScorer
from prmkit.search.core import SearchRecord, agg_label, score_items, solution_score
from prmkit.search.sampled import choose, curve_sizes
from prmkit.search.select import choice_probs, tie_ranks
from prmkit.worlds import get_world

GROUP_KEYS = ("problem_id", "prompt")
TIE_BREAKS = ("random", "first")


@dataclass
class Group:
    """One problem's candidates (graded), their aggregated PRM scores and PRM cost."""

    key: str
    samples: list[Sample]
    scores: list[float] | None = None
    prm_tokens: int = 0
    prm_steps: int = 0

    @property
    def answers(self) -> list[str | None]:
        return [s.final_answer for s in self.samples]

    @property
    def correct(self) -> list[bool]:
        return [bool(s.correct) for s in self.samples]


def group_samples(samples: list[Sample], n: int, by: str = "problem_id") -> list[Group]:
    """Samples grouped by problem (`by`: problem_id or prompt), in order of first
    appearance; the first n of each group in file order."""
    if by not in GROUP_KEYS:
        raise ValueError(f"group by one of {GROUP_KEYS}")
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(getattr(s, by), []).append(s)
    return [Group(k, v[:n]) for k, v in groups.items()]


def grade(s: Sample, world: str) -> Sample:
    """The sample graded by the world when it has a reference; else its own verdict,
    with its final answer read by the world if it states none."""
    if str(s.reference).strip():
        return graded_sample(s.problem(), s.steps, s.id, world, s.meta)
    if s.correct is None:
        raise ValueError(f"sample {s.id} has no reference answer and no 'correct': cannot grade")
    if s.final_answer is None:
        s.final_answer = get_world(world).extract_answer(s.steps)
    return s


def score_groups(
    scorer: StepScorer, groups: list[Group], agg: str, chunk: int = 64, progress: bool = False
) -> None:
    """Aggregated PRM score of every candidate, with the PRM tokens and steps read."""
    for c in tqdm(
        range(0, len(groups), chunk), desc="PRM", unit="chunk", disable=not progress, leave=False
    ):
        part = groups[c : c + chunk]
        items = [(s.prompt, s.steps) for g in part for s in g.samples]
        scores, tokens = score_items(scorer, items)
        k = 0
        for g in part:
            m = len(g.samples)
            g.scores = [solution_score(scorer, agg, sc) for sc in scores[k : k + m]]
            g.prm_tokens = sum(tokens[k : k + m])
            g.prm_steps = sum(len(steps) for _, steps in items[k : k + m])
            k += m


def expected(method: str, g: Group, idx: list[int]) -> float:
    """Expected correctness of `method` on the candidates `idx` over random tie-breaking."""
    sc = None if g.scores is None else [g.scores[i] for i in idx]
    probs = choice_probs(method, [g.answers[i] for i in idx], sc)
    return sum(p for p, i in zip(probs, idx) if g.correct[i])


def group_curve(method: str, g: Group, draws: int, rng: random.Random, up_to: int) -> dict:
    """{k: {"accuracy", "tokens", "prm_tokens"}} for k = 1, 2, 4, ..., up_to: the
    expected accuracy over random k-subsets of the candidates; all of them when k is at
    least their number (a problem with fewer candidates uses all it has)."""
    n = len(g.samples)
    tokens = [int(s.meta.get("n_tokens", 0) or 0) for s in g.samples]
    per_prm = 0.0 if method == "vote" else g.prm_tokens / n
    out = {}
    for k in curve_sizes(up_to):
        subsets = [list(range(n))] if k >= n else [rng.sample(range(n), k) for _ in range(draws)]
        acc = sum(expected(method, g, sub) for sub in subsets) / len(subsets)
        tok = sum(sum(tokens[i] for i in sub) for sub in subsets) / len(subsets)
        out[str(k)] = {"accuracy": acc, "tokens": tok, "prm_tokens": per_prm * min(k, n)}
    return out


def rerank_group(
    method: str,
    g: Group,
    scorer: StepScorer | None,
    agg: str,
    seed: int,
    curve_draws: int = 0,
    tie_break: str = "random",
    up_to: int | None = None,
) -> SearchRecord:
    """Choose one candidate of `g`, ties by a seeded random permutation (tie_break
    "random") or by file order ("first"), beside the baselines."""
    n = len(g.samples)
    rng = random.Random(f"{seed}:{g.key}")
    rank = tie_ranks(n, rng) if tie_break == "random" else list(range(n))
    j = choose(method, g.answers, g.scores, rank)
    v = choose("vote", g.answers, None, rank)
    everyone = list(range(n))
    x = g.samples[j]
    return SearchRecord(
        problem_id=x.problem_id,
        method=method,
        label="vote" if method == "vote" else f"{method}-{agg_label(scorer, agg)}",
        n=n,
        answer=x.final_answer,
        correct=bool(x.correct),
        steps=x.steps,
        score=None if g.scores is None else g.scores[j],
        tokens=sum(int(s.meta.get("n_tokens", 0) or 0) for s in g.samples),
        prm_tokens=0 if method == "vote" else g.prm_tokens,
        candidates=n,
        curve=group_curve(method, g, curve_draws, rng, up_to or n) if curve_draws else None,
        meta={
            "candidate_id": x.id,
            "expected_correct": round(expected(method, g, everyone), 6),
            "first_correct": g.correct[0],
            "vote_correct": g.correct[v],
            "vote_expected": round(expected("vote", g, everyone), 6),
            "pass_at_n": any(g.correct),
            "prm_steps": 0 if method == "vote" else g.prm_steps,
        },
    )


def rerank(
    method: str,
    samples: list[Sample],
    scorer: StepScorer | None,
    *,
    n: int,
    agg: str = "min",
    world: str = "gsm8k",
    seed: int = 0,
    group_by: str = "problem_id",
    curve_draws: int = 0,
    tie_break: str = "random",
    chunk: int = 64,
    progress: bool = False,
) -> tuple[list[SearchRecord], float]:
    """Rerank a file's samples by `method`; returns one record per problem and the
    seconds spent grading, scoring and choosing."""
    t0 = time.perf_counter()
    groups = group_samples([grade(s, world) for s in samples], n, group_by)
    if method != "vote":
        if scorer is None:
            raise ValueError(f"method {method!r} needs a PRM (--prm)")
        score_groups(scorer, groups, agg, chunk, progress)
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}")
    records = [
        rerank_group(method, g, scorer, agg, seed, curve_draws, tie_break, n) for g in groups
    ]
    return records, time.perf_counter() - t0


def rerank_summary(records: list[SearchRecord]) -> dict:
    """Accuracy of the seeded choice, its expectation over tie-breaking, and the
    baselines on the same candidates, as fractions of problems."""
    m = max(1, len(records))

    def mean(key: str) -> float:
        return round(sum(float(r.meta[key]) for r in records) / m, 4)

    return {
        "candidates": sum(r.candidates for r in records),
        "expected_accuracy": mean("expected_correct"),
        "first_sample": mean("first_correct"),
        "vote": mean("vote_correct"),
        "vote_expected": mean("vote_expected"),
        "oracle": mean("pass_at_n"),
        "tie_dependent": round(sum(0 < r.meta["expected_correct"] < 1 for r in records) / m, 4),
        "prm_steps": sum(r.meta["prm_steps"] for r in records),
    }
