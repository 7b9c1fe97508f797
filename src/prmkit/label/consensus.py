"""Consensus filtering: keep only the steps where two label sets agree.

The Qwen team, "The Lessons of Developing Process Reward Models in Mathematical
Reasoning" (Zhang et al. 2025), keep a training solution only where MC estimation and
an LLM judge agree on its labels. Given labels A (this run's --in) and B (--with),
matched by sample id:

- mode "step": keep the longest prefix of steps on which hard_A == hard_B; the sample
  is cut there (a prefix with agreed labels is still a valid training example).
- mode "first_error": keep the whole sample if first_error_A == first_error_B, else
  drop it (the paper's instance-level filter).

Every dropped step is counted under a reason: "disagree" (the labels differ there),
"after_disagreement" (they agree, but follow a disagreement), "missing" (the id is not
in B), "unlabeled" (A or B has no labels), "steps_differ" (A and B hold different
steps for the id). Samples left with no step are not written.
"""

from __future__ import annotations

from collections import Counter

from prmkit.data import Sample
from prmkit.data.formats import hard_from_first_error
from prmkit.label.base import LabelContext, truncate, with_labels

MODES = ("step", "first_error")


def hard_of(s: Sample) -> list[bool] | None:
    if s.labels is None:
        return None
    if s.labels.hard is not None:
        return list(s.labels.hard)
    return hard_from_first_error(s.labels.first_error, len(s.steps))


def agree(a: Sample, b: Sample | None, mode: str = "step") -> tuple[int, Counter]:
    """How many leading steps of `a` to keep, and the dropped steps by reason."""
    n = len(a.steps)
    why: Counter = Counter()
    ha = hard_of(a)
    hb = None if b is None else hard_of(b)
    if b is None or ha is None or hb is None:
        why["missing" if b is None else "unlabeled"] = n
        return 0, why
    if list(a.steps) != list(b.steps):
        why["steps_differ"] = n
        return 0, why
    if mode == "first_error":
        if a.labels.first_error == b.labels.first_error:
            return n, why
        why["disagree"] = sum(x != y for x, y in zip(ha, hb))
        why["after_disagreement"] = n - why["disagree"]
        return 0, why
    keep = next((i for i, (x, y) in enumerate(zip(ha, hb)) if x != y), n)
    if keep < n:
        why["disagree"] = sum(x != y for x, y in zip(ha[keep:], hb[keep:]))
        why["after_disagreement"] = n - keep - why["disagree"]
    return keep, +why


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    other, mode = ctx.other, ctx.consensus.mode
    if mode not in MODES:
        raise ValueError(f"consensus mode must be one of {MODES}, got {mode!r}")
    out = []
    for a in samples:
        b = other.get(a.id)
        keep, why = agree(a, b, mode)
        if keep == 0:
            continue
        src = [(x.labels.provenance or {}).get("method", "?") for x in (a, b)]
        prov = {
            "method": "consensus",
            "mode": mode,
            "sources": src,
            "k": 0,
            "rollouts": 0,
            "tokens": 0,
            "kept_steps": keep,
            "dropped": dict(why),
        }
        s = truncate(a, keep) if keep < len(a.steps) else a
        out.append(with_labels(s, hard_of(a)[:keep], None, prov))
    return out


def dropped_counts(samples: list[Sample], ctx: LabelContext) -> Counter:
    """Dropped steps by reason over all samples (what the summary reports)."""
    other = ctx.other
    total: Counter = Counter()
    for a in samples:
        total += agree(a, other.get(a.id), ctx.consensus.mode)[1]
    return total
