"""Step-level beam search guided by a PRM.

Each of B beams proposes M candidate next steps (one batched `continue_steps` call
with `stop_at_step=True` across all beams and problems; the first round proposes
B*M from the empty solution). The PRM scores every new partial solution; per
problem the B best by aggregated score survive, minus one slot for every solution
already finished. Search ends when every problem has B finished solutions or none
left to grow; the best finished one is the answer (with `select="weighted"`: the best
of the answer whose finished solutions have the largest total score). Identical
candidates are merged (their tokens are still counted). This is the step-level search
of Snell et al. 2024 ("Scaling LLM Test-Time Compute Optimally...") with N = B*M
candidates a round.

With `subtrees=K`, the B beams are split into K independent searches of B // K beams,
each ranking only its own candidates; their finished solutions are pooled for the
final choice. K = B is diverse verifier tree search (DVTS; Beeching, Tunstall and Rush
2024, "Scaling test-time compute with open models"): wide beams collapse onto the few
prefixes the PRM likes best, and independent subtrees keep the candidates diverse.
"""

from __future__ import annotations

from tqdm import tqdm

from prmkit.data import Problem
from prmkit.models.generator import Generator
from prmkit.prm.base import StepScorer
from prmkit.search.core import SearchRecord, SearchSettings, agg_label, need_scorer, solution_score
from prmkit.search.paths import Ledger, Path, by_owner, extend, finish_records, score_paths, unique


def beam_width(s: SearchSettings) -> int:
    return max(1, s.n // s.expand)


def beam(
    policy: Generator,
    scorer: StepScorer | None,
    problems: list[Problem],
    s: SearchSettings,
    progress: bool = False,
) -> list[SearchRecord]:
    scorer = need_scorer(scorer, "beam")
    B, M, P = beam_width(s), s.expand, len(problems)
    K = min(s.subtrees, B)
    W = B // K  # beams per subtree
    # Subtree t of problem i searches as owner i*K + t: it ranks, keeps and finishes only
    # among its own candidates, so one PRM favourite cannot take every beam.
    trees = [prob for prob in problems for _ in range(K)]
    ledger = Ledger.new(P * K)
    finished: list[list[Path]] = [[] for _ in trees]
    active = [Path(v, []) for v in range(P * K)]
    rounds = [0] * (P * K)
    bar = tqdm(desc="beam rounds", unit="round", disable=not progress, leave=False)
    r = 0
    while active:
        children = unique(
            extend(policy, trees, active, W * M if r == 0 else M, s, ledger, s.seed * 1_000_003 + r)
        )
        score_paths(scorer, trees, children, ledger)
        active = []
        for v, group in enumerate(by_owner(children, P * K)):
            if not group:
                continue
            rounds[v] = r + 1
            slots = W - len(finished[v])
            ranked = sorted(group, key=lambda c: -solution_score(scorer, s.aggregate, c.scores))
            for c in ranked[:slots]:
                (finished[v] if c.done else active).append(c)
        r += 1
        bar.update(1)
    bar.close()
    label = f"beam-{agg_label(scorer, s.aggregate)} M={M}" + (f" K={K}" if K > 1 else "")
    per = [range(i * K, (i + 1) * K) for i in range(P)]
    totals = Ledger(
        [sum(ledger.tokens[v] for v in vs) for vs in per],
        [sum(ledger.prm_tokens[v] for v in vs) for vs in per],
    )
    pooled = [[c for v in vs for c in finished[v]] for vs in per]
    meta = [
        {"beams": K * W, "expand": M, "subtrees": K, "rounds": max(rounds[v] for v in vs)}
        for vs in per
    ]
    return finish_records("beam", label, problems, pooled, scorer, s, totals, meta)
