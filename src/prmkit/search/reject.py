"""Best-of-N with early rejection by partial rewards.

Cheshmi et al. 2025, "Accelerating LLM Reasoning via Early Rejection with Partial
Reward Modeling" (Findings of EMNLP 2025, arXiv:2508.01969): a PRM's score of a
partial solution predicts the score of the finished one, so low-scoring candidates
can be stopped before they are finished. Here: generate the first `reject_after`
steps of N candidates (batched, one step a call), score the partial solutions,
keep the best ceil(keep * N) per problem, continue only those to the end, and
choose among them as best-of-N does. Candidates that finish within the first steps
take part in the ranking as they are. The paper rejects inside a step after a
number of tokens; we reject at step boundaries, which the step-level PRMs here score.
"""

from __future__ import annotations

import math

from prmkit.data import Problem
from prmkit.models.generator import Generator
from prmkit.prm.base import StepScorer
from prmkit.search.core import SearchRecord, SearchSettings, agg_label, need_scorer, solution_score
from prmkit.search.paths import Ledger, Path, by_owner, extend, finish_records, score_paths


def kept_per_problem(s: SearchSettings) -> int:
    return max(1, math.ceil(s.keep * s.n))


def reject(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[SearchRecord]:
    scorer = need_scorer(scorer, "reject")
    P, seed = len(problems), s.seed * 1_000_003
    ledger = Ledger.new(P)
    paths = extend(policy, problems, [Path(i, []) for i in range(P)], s.n, s, ledger, seed)
    for r in range(1, s.reject_after):
        live = [p for p in paths if not p.done]
        paths = [p for p in paths if p.done] + extend(
            policy, problems, live, 1, s, ledger, seed + r
        )
    score_paths(scorer, problems, paths, ledger)
    k = kept_per_problem(s)
    kept: list[Path] = []
    for group in by_owner(paths, P):
        kept += sorted(group, key=lambda c: -solution_score(scorer, s.aggregate, c.scores))[:k]
    live = [p for p in kept if not p.done]
    final = [p for p in kept if p.done] + extend(
        policy, problems, live, 1, s, ledger, seed + s.reject_after, one_step=False
    )
    score_paths(scorer, problems, final, ledger)
    label = f"reject-{agg_label(scorer, s.aggregate)} k={s.reject_after} keep={s.keep:g}"
    meta = [{"kept": min(k, len(g)), "reject_after": s.reject_after} for g in by_owner(paths, P)]
    return finish_records("reject", label, problems, by_owner(final, P), scorer, s, ledger, meta)
