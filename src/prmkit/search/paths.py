"""Partial solutions grown step by step: what beam search and early rejection share."""

from __future__ import annotations

from dataclasses import dataclass, field

from prmkit.data import Problem
from prmkit.grade import graded_sample
from prmkit.models.generator import Generator, SamplingParams, continue_steps
from prmkit.models.steps import render
from prmkit.prm.base import StepScorer
from prmkit.search.core import (
    SearchRecord,
    SearchSettings,
    agg_label,
    is_final,
    score_items,
    solution_score,
)
from prmkit.search.select import pick_best, pick_weighted
from prmkit.worlds import get_world


@dataclass
class Path:
    """A (partial) solution of problem `owner`: its steps, the PRM's per-step scores
    of them (from the latest call), the tokens generated along it, whether it ended."""

    owner: int
    steps: list[str]
    scores: list[float] = field(default_factory=list)
    tokens: int = 0
    done: bool = False


@dataclass
class Ledger:
    """Compute per problem: tokens generated and PRM input tokens."""

    tokens: list[int]
    prm_tokens: list[int]

    @classmethod
    def new(cls, n_problems: int) -> Ledger:
        return cls([0] * n_problems, [0] * n_problems)


def extend(
    policy: Generator,
    problems: list[Problem],
    paths: list[Path],
    n: int,
    s: SearchSettings,
    ledger: Ledger,
    seed: int,
    one_step: bool = True,
) -> list[Path]:
    """n continuations of every path, in one batched call: one more step each
    (one_step) or to the end of the solution. Every generated token is charged to
    its problem. A child is done when the policy ended, its last step states a final
    answer, or it reached s.max_steps steps or s.max_new_tokens tokens. A path with
    no room left in the policy's context is returned once, as done."""
    stuck = [p for p in paths if not fits(policy, problems[p.owner].prompt, p.steps)]
    paths = [p for p in paths if fits(policy, problems[p.owner].prompt, p.steps)]
    stuck = [Path(p.owner, p.steps, p.scores, p.tokens, True) for p in stuck]
    if not paths:
        return stuck
    budget = s.max_new_tokens - min(p.tokens for p in paths)
    params = SamplingParams(
        n, max(1, budget), s.temperature, s.top_p, stop_at_step=one_step, seed=seed
    )
    gens = continue_steps(policy, [(problems[p.owner].prompt, p.steps) for p in paths], params)
    children = []
    for p, gs in zip(paths, gens):
        for g in gs:
            ledger.tokens[p.owner] += len(g.token_ids)
            steps = p.steps + g.steps
            tokens = p.tokens + len(g.token_ids)
            done = (
                g.finished
                or not g.steps
                or not one_step
                or is_final(s.world, steps)
                or len(steps) >= s.max_steps
                or tokens >= s.max_new_tokens
            )
            children.append(Path(p.owner, steps, list(p.scores), tokens, done))
    return children + stuck


def fits(policy: Generator, prompt: str, steps: list[str]) -> bool:
    """Whether the policy can still generate after this prefix: room is left in its
    context (always, where the context length or the tokenizer is not known here)."""
    limit = policy.context_length
    if limit is None:
        return True
    ids = policy.prompt_ids(render(prompt, steps, policy.step_sep))
    return ids is None or len(ids) < limit - 1


def unique(paths: list[Path]) -> list[Path]:
    """Drop repeated (problem, steps) paths, keeping the first: sampling the same step
    twice gives no new candidate (its tokens were still paid for)."""
    seen, out = set(), []
    for p in paths:
        key = (p.owner, tuple(p.steps))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def score_paths(
    scorer: StepScorer, problems: list[Problem], paths: list[Path], ledger: Ledger
) -> None:
    """Score every path whose steps changed since it was last scored, in one call."""
    todo = [p for p in paths if p.steps and len(p.scores) != len(p.steps)]
    scores, ptoks = score_items(scorer, [(problems[p.owner].prompt, p.steps) for p in todo])
    for p, sc, t in zip(todo, scores, ptoks):
        p.scores = sc
        ledger.prm_tokens[p.owner] += t


def by_owner(paths: list[Path], n_problems: int) -> list[list[Path]]:
    groups: list[list[Path]] = [[] for _ in range(n_problems)]
    for p in paths:
        groups[p.owner].append(p)
    return groups


def finish_records(
    method: str,
    label: str,
    problems: list[Problem],
    finished: list[list[Path]],
    scorer: StepScorer,
    s: SearchSettings,
    ledger: Ledger,
    meta: list[dict] | None = None,
) -> list[SearchRecord]:
    """Per problem, the finished path chosen by `s.select` (best aggregated score, or
    the top path of the answer with the largest total score; answered ones first), graded.
    Weighted selection marks the label with " wv"."""
    world = s.world
    if s.select == "weighted":
        label += " wv"
    records = []
    for i, (prob, cands) in enumerate(zip(problems, finished)):
        if cands:
            agg = [solution_score(scorer, s.aggregate, c.scores) for c in cands]
            answers = [get_world(world).extract_answer(c.steps) for c in cands]
            j = pick_weighted(answers, agg) if s.select == "weighted" else pick_best(answers, agg)
            best, score = cands[j], agg[j]
        else:
            best, score = Path(i, []), None
        g = graded_sample(prob, best.steps, f"{prob.id}-{method}", world)
        records.append(
            SearchRecord(
                problem_id=prob.id,
                method=method,
                label=label,
                n=s.n,
                answer=g.final_answer,
                correct=bool(g.correct),
                steps=best.steps,
                score=score,
                tokens=ledger.tokens[i],
                prm_tokens=ledger.prm_tokens[i],
                candidates=len(cands),
                meta=(meta[i] if meta else {}) | {"aggregate": agg_label(scorer, s.aggregate)},
            )
        )
    return records
