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


def prefix_values(
    samples: list[Sample], ctx: LabelContext, first: int = 1
) -> list[tuple[list[float], int, int]]:
    """MC values of prefixes first..n of each sample: (values, rollouts, tokens) each.

    All prefixes of all samples go to the policy in one batched call.
    """
    wanted, known = [], {}
    for si, s in enumerate(samples):
        n = len(s.steps)
        for p in range(first, n + 1):
            if p == n and is_complete(s, ctx):
                known[si, p] = 1.0 if full_outcome(s, ctx) else 0.0
            else:
                wanted.append((si, p))
    probes = rollouts(ctx, [(samples[si], p, 0, ctx.k) for si, p in wanted])
    by_key = {key: pr for key, pr in zip(wanted, probes)}
    out = []
    for si, s in enumerate(samples):
        vals, spent, tokens = [], 0, 0
        for p in range(first, len(s.steps) + 1):
            if (si, p) in known:
                vals.append(known[si, p])
                continue
            pr = by_key[si, p]
            vals.append(pr.hits / ctx.k)
            spent += ctx.k
            tokens += pr.tokens
        out.append((vals, spent, tokens))
    return out


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    out = []
    for s, (soft, spent, tokens) in zip(samples, prefix_values(samples, ctx, first=1)):
        prov = provenance("mc", ctx, spent, tokens, estimator="hard = soft > 0")
        out.append(with_labels(s, [v > 0 for v in soft], soft, prov))
    return out
