"""Monte Carlo step labels, Math-Shepherd style.

Wang et al. 2024, "Math-Shepherd: Verify and Reinforce LLMs Step-by-step without
Human Annotations". From the prefix ending at step i, k completions are sampled; the
soft label is the fraction that reach the reference answer, the hard label is
soft > 0 (the step can still lead to the right answer):

    soft_i = (1/k) * sum_j [answer(steps[:i+1] + completion_j) == reference]
    hard_i = soft_i > 0

A complete solution's last prefix needs no rollouts: its value is its own answer's
correctness (0 or 1). Every other prefix costs exactly k rollouts.
"""

from __future__ import annotations

from prmkit.data import Sample
from prmkit.label.base import (
    LabelContext,
    full_outcome,
    is_complete,
    provenance,
    rollouts,
    with_labels,
)


def values_at(ctx: LabelContext, wanted: list[tuple[Sample, int]]) -> list[tuple[float, int, int]]:
    """MC value of each (sample, prefix length p): (value, rollouts, tokens) each.

    All prefixes go to the policy in one batched call. A complete solution's full
    prefix costs nothing: its value is its own answer's correctness.
    """
    known, todo = {}, []
    for i, (s, p) in enumerate(wanted):
        if p == len(s.steps) and is_complete(s, ctx):
            known[i] = 1.0 if full_outcome(s, ctx) else 0.0
        else:
            todo.append(i)
    probes = rollouts(ctx, [(wanted[i][0], wanted[i][1], 0, ctx.k) for i in todo])
    by_i = dict(zip(todo, probes))
    return [
        (known[i], 0, 0) if i in known else (by_i[i].hits / ctx.k, ctx.k, by_i[i].tokens)
        for i in range(len(wanted))
    ]


def prefix_values(
    samples: list[Sample], ctx: LabelContext, first: int = 1
) -> list[tuple[list[float], int, int]]:
    """MC values of prefixes first..n of each sample: (values, rollouts, tokens) each.

    All prefixes of all samples go to the policy in one batched call (`values_at`).
    """
    wanted = [(s, p) for s in samples for p in range(first, len(s.steps) + 1)]
    flat = iter(values_at(ctx, wanted))
    out = []
    for s in samples:
        got = [next(flat) for _ in range(first, len(s.steps) + 1)]
        out.append(([v for v, _, _ in got], sum(r for _, r, _ in got), sum(t for _, _, t in got)))
    return out


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    out = []
    for s, (soft, spent, tokens) in zip(samples, prefix_values(samples, ctx, first=1)):
        prov = provenance("mc", ctx, spent, tokens, estimator="hard = soft > 0")
        out.append(with_labels(s, [v > 0 for v in soft], soft, prov))
    return out
