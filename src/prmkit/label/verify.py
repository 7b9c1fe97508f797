"""Exact labels from a world's rule verifier: no policy, no rollouts.

The arithmetic world checks every step against the problem's operation chain; the
GSM8K world checks every calculator annotation `<<expr=result>>`. Steps before the
first error are correct (no-op steps included), the first error and every step after
it are wrong:

    hard_i = i < first_error        (all True when first_error = -1)
"""

from __future__ import annotations

from prmkit.data import Sample
from prmkit.data.formats import hard_from_first_error
from prmkit.label.base import ItemError, LabelContext, with_labels, world_of


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    out = []
    for s in samples:
        w = world_of(s, ctx)
        try:
            g = w.grade(s.prompt, s.reference, s.steps)
        except ValueError as e:
            raise ItemError(s.id, f"{w.NAME} verifier: {e}") from None
        prov = {
            "method": "verify",
            "world": w.NAME,
            "k": 0,
            "rollouts": 0,
            "tokens": 0,
            "reason": g.reason,
        }
        out.append(
            with_labels(
                s,
                hard_from_first_error(g.first_error, len(s.steps)),
                None,
                prov,
                {"status": g.status},
            )
        )
    return out
