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
    ledger = Ledger.new(P)
    finished: list[list[Path]] = [[] for _ in problems]
    active = [Path(i, []) for i in range(P)]
    rounds = [0] * P
    bar = tqdm(desc="beam rounds", unit="round", disable=not progress, leave=False)
    r = 0
    while active:
        children = unique(
            extend(
                policy, problems, active, B * M if r == 0 else M, s, ledger, s.seed * 1_000_003 + r
            )
        )
        score_paths(scorer, problems, children, ledger)
        active = []
        for i, group in enumerate(by_owner(children, P)):
            if not group:
                continue
            rounds[i] = r + 1
            slots = B - len(finished[i])
            ranked = sorted(group, key=lambda c: -solution_score(scorer, s.aggregate, c.scores))
            for c in ranked[:slots]:
                (finished[i] if c.done else active).append(c)
        r += 1
        bar.update(1)
    bar.close()
    label = f"beam-{agg_label(scorer, s.aggregate)} M={M}"
    meta = [{"beams": B, "expand": M, "rounds": k} for k in rounds]
    return finish_records("beam", label, problems, finished, scorer, s, ledger, meta)
