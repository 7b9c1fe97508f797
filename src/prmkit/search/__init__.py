"""PRM-guided test-time search: bon, vote, weighted-vote, beam, reject.

Every method has one signature, `method(policy, scorer, problems, settings,
progress=False) -> list[SearchRecord]`, and METHODS maps method names to them. PRMs
are used only through `prmkit.prm.base.StepScorer`.
"""

from __future__ import annotations

import time

from prmkit.prm.aggregate import AGGREGATORS, aggregate
from prmkit.prm.base import NoisyRulePRM, load_scorer
from prmkit.search.beam import beam
from prmkit.search.core import SearchRecord, SearchSettings
from prmkit.search.curves import points, summarize
from prmkit.search.reject import reject
from prmkit.search.sampled import bon, vote, weighted_vote

METHODS = {
    "bon": bon,
    "vote": vote,
    "weighted-vote": weighted_vote,
    "beam": beam,
    "reject": reject,
}


def run_search(
    method: str, policy, scorer, problems, s: SearchSettings, progress: bool = False
) -> tuple[list[SearchRecord], float]:
    """Run one method; returns its records and the wall time in seconds."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    t0 = time.perf_counter()
    records = METHODS[method](policy, scorer, problems, s, progress)
    return records, time.perf_counter() - t0


__all__ = [
    "AGGREGATORS",
    "METHODS",
    "NoisyRulePRM",
    "SearchRecord",
    "SearchSettings",
    "aggregate",
    "load_scorer",
    "points",
    "run_search",
    "summarize",
]
