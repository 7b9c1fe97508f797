"""Progress (advantage) labels, from "Rewarding Progress" (Setlur et al. 2024,
"Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning").

A step's progress is the change it makes in the Monte Carlo probability of reaching
the right answer, measured under a prover policy (here: the policy itself):

    V_i = MC success rate from steps[:i]        (i = 0..n; V_0 = from the bare problem)
    A_i = V_{i+1} - V_i                         (progress of step i, in [-1, 1])

Labels: soft_i = V_{i+1} (the Q value, as in `mc`), hard_i = soft_i > 0, and the
progress A_i per step in `sample.meta["progress"]` (V_0..V_n in `meta["values"]`), the
target of a process advantage verifier. Costs one more prefix (the empty one) than mc.
"""

from __future__ import annotations

from prmkit.data import Sample
from prmkit.label.base import LabelContext, provenance, with_labels
from prmkit.label.mc import prefix_values


def advantages(values: list[float]) -> list[float]:
    """A_i = V_{i+1} - V_i for values V_0..V_n: n progress values."""
    return [round(b - a, 6) for a, b in zip(values, values[1:])]


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    out = []
    for s, (values, spent, tokens) in zip(samples, prefix_values(samples, ctx, first=0)):
        soft = values[1:]
        prov = provenance("progress", ctx, spent, tokens, prover="policy")
        meta = {"progress": advantages(values), "values": values}
        out.append(with_labels(s, [v > 0 for v in soft], soft, prov, meta))
    return out
