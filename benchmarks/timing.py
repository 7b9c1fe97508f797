"""Timing shared by the benchmark scripts (imported as `from timing import timed`:
a script run as `python benchmarks/NAME.py` has this folder on its path)."""

from __future__ import annotations

import time


def timed(fns: list, repeats: int) -> list[float]:
    """The fastest of `repeats` runs of each function, after one warm-up run each.

    The runs are interleaved (a, b, c, a, b, c, ...) so load from other processes on
    a shared machine hits all of them alike; the minimum is the least disturbed run.
    """
    for fn in fns:
        fn()
    ts: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(ts, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [min(t) for t in ts]
