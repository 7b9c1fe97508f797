"""Scoring batches in forked worker processes of one torch thread each.

One process with two torch threads runs every operator split in two and waits for
both halves (at each of a pass's ~100 operators; the int8 Linears are one small
fbgemm call per window each, which a second thread barely shares). Two processes of one
thread each score whole batches side by side and never wait for each other.

`map_in_workers(fn, batches, workers)` forks `workers` processes (the start method
`fork`, so the model, quantized or not, is inherited, never pickled), each with one
torch thread, and returns `[fn(b) for b in batches]` in order, the batches dealt to
whichever worker is free. A batch gets the same arithmetic in a worker as in the parent
at one thread, so the results equal one process's at one thread. The workers live for
one call (forking costs milliseconds against a call's seconds of scoring), so they
always hold the model as it is, and none outlives its caller.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

_FN: Callable | None = None


def _start(fn: Callable, threads: int) -> None:
    """Worker initializer: the function to run and this process's torch threads."""
    import torch

    global _FN
    _FN = fn
    torch.set_num_threads(threads)


def _call(batch: Any) -> Any:
    assert _FN is not None
    return _FN(batch)


def check_workers(workers: int) -> None:
    """ValueError unless `workers` processes can be forked from this one."""
    if workers < 2:
        raise ValueError(f"a pool needs 2 or more workers, not {workers}")
    if "fork" not in mp.get_all_start_methods():
        raise ValueError("scoring in worker processes needs the fork start method")
    if mp.current_process().daemon:
        raise ValueError(
            "scoring in worker processes cannot run inside a daemonic process "
            "(e.g. serve prm's scorer process)"
        )


def map_in_workers(fn: Callable, batches: Sequence[Any], workers: int, threads: int = 1) -> list:
    """[fn(b) for b in batches], computed in `workers` processes forked now (so they hold
    the model as it is now) of `threads` torch threads each, in order; the processes
    end before it returns."""
    check_workers(workers)
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_start, initargs=(fn, threads)) as pool:
        return pool.map(_call, batches, chunksize=1)
