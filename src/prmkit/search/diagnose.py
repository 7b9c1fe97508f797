"""Why best-of-N does what it does on a pool: the PRM's ranking, measured.

Best-of-N picks the candidate with the highest aggregated PRM score. It can only be
right where the pool holds a correct solution (coverage, pass@N), and it is right there
exactly when the PRM ranks a correct solution above every wrong one. So its accuracy
falls as N grows when each extra candidate is more likely to add a wrong solution the
PRM overrates than a correct one the PRM ranks first. Measured here on one pool:

- coverage: the fraction of problems with at least one correct candidate;
- pairwise: over (correct, wrong) candidate pairs of the same problem, the fraction in
  which the correct one scores higher (ties count half): 0.5 is chance, 1 perfect;
- misses: problems with a correct candidate where best-of-N picks a wrong one;
- at_error / at_ok: on the wrong candidates best-of-N picked, the PRM's mean score at
  the verifier's first wrong step, and its mean score on correct steps of correct
  candidates. A PRM that sees the error scores the wrong step far lower.
"""

from __future__ import annotations

from prmkit.prm.scorer import StepScorer
from prmkit.search.core import solution_score
from prmkit.search.sampled import Pool
from prmkit.search.select import pick_best


def pairwise_accuracy(correct: list[float], wrong: list[float]) -> tuple[float, int]:
    """(wins, pairs): correct-over-wrong wins (a tie is half a win) over all pairs."""
    wins = sum((c > w) + 0.5 * (c == w) for c in correct for w in wrong)
    return wins, len(correct) * len(wrong)


def ranking(pools: list[Pool], scorer: StepScorer, agg: str = "min") -> dict:
    """The figures of the module docstring for scored pools (every pool has scores)."""
    covered = misses = pairs = 0
    wins = 0.0
    at_error: list[float] = []
    at_ok: list[float] = []
    for pool in pools:
        sol = [solution_score(scorer, agg, sc) for sc in pool.scores]
        ok = [s.correct for s in pool.samples]
        w, n = pairwise_accuracy(
            [v for v, c in zip(sol, ok) if c], [v for v, c in zip(sol, ok) if not c]
        )
        wins, pairs = wins + w, pairs + n
        at_ok += [x for sc, c in zip(pool.scores, ok) if c for x in sc]
        if not any(ok):
            continue
        covered += 1
        j = pick_best(pool.answers, sol)
        if not ok[j]:
            misses += 1
            fe = pool.samples[j].first_error
            if fe is not None and 0 <= fe < len(pool.scores[j]):
                at_error.append(pool.scores[j][fe])
    n = max(len(pools), 1)
    return {
        "coverage": round(covered / n, 4),
        "pairwise": round(wins / pairs, 4) if pairs else None,
        "pairs": pairs,
        "misses": misses,
        "covered": covered,
        "at_error": round(sum(at_error) / len(at_error), 4) if at_error else None,
        "at_ok": round(sum(at_ok) / len(at_ok), 4) if at_ok else None,
    }
