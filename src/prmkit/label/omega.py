"""OmegaPRM's divide-and-conquer search for the first wrong step.

Luo et al. 2024, "Improve Mathematical Reasoning in Language Models by Automated
Process Supervision" (OmegaPRM), section 3.3: instead of k rollouts from every prefix
(Math-Shepherd), binary-search for the first step whose prefix has zero success in k
rollouts. With V(p) the MC value of the first p steps, and V assumed to stay 0 once
it is 0 (an error is not undone):

    lo = 0 (the bare problem is taken as solvable), hi = the first prefix known to fail
    while hi - lo > 1:   mid = (lo + hi) // 2;  k rollouts from steps[:mid]
                         any success -> lo = mid   else -> hi = mid
    first_error = hi - 1  (the step whose prefix has zero success), -1 if none fails

Evidence is reused (a success proves more than its own prefix):
- A complete solution is itself a rollout from every one of its prefixes: if it is
  right, all its steps are positive at zero cost; if wrong, its full prefix fails.
- A successful rollout from steps[:mid] whose first t steps repeat the solution's
  steps mid..mid+t-1 also passes through steps[:mid+t], so lo jumps to mid+t.

Rollouts from steps[:mid] use the same seeds as `mc` does from that prefix, so at the
same k both see identical rollouts there: a fair comparison (common random numbers).
A probe only asks whether any rollout succeeds, so its k rollouts come in waves and a
success ends it early (same decision as all k at once; see `search`).

Later steps (after the first error) follow `omega_after`: "negative" labels them
wrong (as the exact verifier does), "truncate" drops them from the sample, as in
OmegaPRM's training data, which ends each solution at its first error.
"""

from __future__ import annotations

import dataclasses

from prmkit.data import Sample
from prmkit.label.base import (
    LabelContext,
    Probe,
    full_outcome,
    is_complete,
    provenance,
    rollouts,
    truncate,
    with_labels,
)

AFTER_MODES = ("negative", "truncate")


@dataclasses.dataclass
class Search:
    """Binary-search state for one sample."""

    sample: Sample
    lo: int = 0  # longest prefix proven to be able to succeed
    hi: int = 0  # shortest prefix found to fail; n + 1 while none is known
    cap: int = 0  # the shortest prefix certain to fail (a wrong complete solution), else n + 1
    spent: int = 0
    tokens: int = 0
    rounds: int = 0
    reused: int = 0  # prefixes proven by a rollout that repeated the solution's steps
    probes: dict = dataclasses.field(default_factory=dict)  # prefix length -> [hits, rollouts]
    probe: Probe | None = None  # the probe in progress (its waves so far)
    wave: int = 0

    @property
    def done(self) -> bool:
        return self.hi - self.lo <= 1


def shared_steps(rollout_steps: list[str], rest: list[str]) -> int:
    """How many leading steps of a rollout repeat the solution's remaining steps."""
    t = 0
    while t < len(rollout_steps) and t < len(rest) and rollout_steps[t].strip() == rest[t].strip():
        t += 1
    return t


def waves(k: int, early_stop: bool = True) -> list[int]:
    """Rollouts per round of one probe: all k at once, or growing waves (k=8: 2, 2, 4)
    after each of which a probe with a success stops, since one success decides it."""
    if not early_stop:
        return [k]
    sizes, w, left = [], max(1, k // 4), k
    while left:
        sizes.append(min(w, left))
        left -= sizes[-1]
        if len(sizes) >= 2:
            w *= 2
    return sizes


def update(st: Search, pr: Probe) -> None:
    """Fold one finished probe (its rollouts from steps[:pr.n]) into the search."""
    st.spent += len(pr.gens)
    st.tokens += pr.tokens
    st.probes[str(pr.n)] = [pr.hits, len(pr.gens)]
    if pr.hits == 0:
        st.hi = pr.n
        return
    n = len(st.sample.steps)
    reach = max(
        pr.n + shared_steps(g.steps, st.sample.steps[pr.n :])
        for g, ok in zip(pr.gens, pr.success)
        if ok
    )
    reach = min(reach, n)
    if reach > pr.n:
        st.reused += 1
    st.lo = max(st.lo, reach)
    if st.lo >= st.hi:
        # A proof of success beats a failed sample of k: only a certain failure remains.
        st.hi = st.cap


def search(samples: list[Sample], ctx: LabelContext) -> list[Search]:
    """Run every sample's binary search, one batched rollout call per round.

    A probe asks only whether any of its k rollouts succeeds, so with early stopping
    (option omega_early_stop, on by default) its rollouts come in waves and a success
    ends it. Rollout j is the same in either case (seeded per j), so the decision, and
    the labels, are exactly those of all k rollouts at once; only the cost differs.
    """
    states = []
    for s in samples:
        n = len(s.steps)
        st = Search(s, lo=0, hi=n + 1, cap=n + 1)
        if is_complete(s, ctx):
            if full_outcome(s, ctx):
                st.lo = n
            else:
                st.hi = st.cap = n
        states.append(st)
    plan = waves(ctx.k, ctx.omega.early_stop)
    while True:
        live = [st for st in states if not st.done]
        if not live:
            return states
        for st in live:
            if st.probe is None:
                st.probe, st.wave = Probe(st.sample, (st.lo + st.hi) // 2), 0
        asks = [(st.sample, st.probe.n, len(st.probe.gens), plan[st.wave]) for st in live]
        for st, got in zip(live, rollouts(ctx, asks)):
            st.rounds += 1
            st.probe.gens += got.gens
            st.probe.success += got.success
            st.wave += 1
            if st.probe.hits > 0 or st.wave == len(plan):
                update(st, st.probe)
                st.probe = None


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    after = ctx.omega.after
    if after not in AFTER_MODES:
        raise ValueError(f"omega_after must be one of {AFTER_MODES}, got {after!r}")
    out = []
    for st in search(samples, ctx):
        s, n = st.sample, len(st.sample.steps)
        fe = st.hi - 1 if st.hi <= n else -1
        prov = provenance(
            "omega",
            ctx,
            st.spent,
            st.tokens,
            rounds=st.rounds,
            early_stop=ctx.omega.early_stop,
            reused=st.reused,
            probes=st.probes,
            after=after,
        )
        if fe >= 0 and after == "truncate" and fe + 1 < n:
            prov["dropped_steps"] = n - fe - 1
            s, n = truncate(s, fe + 1), fe + 1
        hard = [fe < 0 or i < fe for i in range(n)]
        out.append(with_labels(s, hard, None, prov))
    return out
