"""Scoring batches in forked worker processes of one torch thread each.

One process with two torch threads runs every operator split in two and waits for
both halves (at each of a pass's ~100 operators; the int8 Linears are one small
fbgemm call per window each, which a second thread barely shares). Two processes of one
thread each score whole batches side by side and never wait for each other.

`WorkerPool(owner, method, workers)` forks `workers` processes (the start method `fork`,
so the model, quantized or not, is inherited, never pickled), each with one torch
thread, and `map(batches)` returns `[owner.method(b) for b in batches]` in order, the
batches dealt to whichever worker is free. A batch gets the same arithmetic in a worker
as in the parent at one thread, so the results equal one process's at one thread.

The processes are forked at the first call and kept: forking costs ~40 ms, a served
batch of a dozen short solutions ~100 ms of scoring. They hold the model as it was when
they were forked, so the pool forks them again whenever `key()` has changed since
(`weights_key`: torch's version counters, which every in-place update of a weight
advances: an optimizer step, `load_state_dict`). The pool refers to its owner weakly and
ends its processes when the owner is collected, on `close()`, at exit, and (each worker
watching its parent) when the parent dies.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

_OWNER: weakref.ref | None = None
_METHOD = ""


def _watch_parent(parent: int) -> None:
    """A worker outliving its parent (killed, so no exit hook ran) exits too."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start(owner: weakref.ref, method: str, threads: int) -> None:
    """Worker initializer: whose method to run and this process's torch threads."""
    import torch

    global _OWNER, _METHOD
    _OWNER, _METHOD = owner, method
    torch.set_num_threads(threads)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _call(batch: Any) -> Any:
    owner = _OWNER() if _OWNER is not None else None
    assert owner is not None, "forked while the pool's owner was alive"
    return getattr(owner, _METHOD)(batch)


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


def weights_key(module) -> tuple | None:
    """Which tensors `module` holds and how often each was changed in place; None when
    one keeps no version counter (an inference tensor), i.e. changes cannot be seen."""
    try:
        return tuple((id(t), t._version) for t in chain(module.parameters(), module.buffers()))
    except RuntimeError:
        return None


def _end(pool) -> None:
    pool.terminate()
    pool.join()


class WorkerPool:
    """`getattr(owner, method)` mapped over batches in `workers` kept forked processes
    of `threads` torch threads each (module docstring). `key(owner)` says whether the
    kept processes still hold the owner as it is (equal keys: they do); without `key`,
    or when it gives None, every call forks them anew."""

    def __init__(
        self,
        owner: object,
        method: str,
        workers: int,
        threads: int = 1,
        key: Callable[[Any], Any] | None = None,
    ):
        check_workers(workers)
        self.owner = weakref.ref(owner)
        self.method, self.workers, self.threads, self.key = method, workers, threads, key
        self.forks = 0
        self._pool = self._finalizer = None
        self._key: Any = None

    def map(self, batches: Sequence[Any]) -> list:
        """[owner.method(b) for b in batches], in order, computed in the workers."""
        if not batches:  # nothing to score: no reason to fork
            return []
        owner = self.owner()
        if owner is None:
            raise ValueError("the pool's owner no longer exists")
        key = self.key(owner) if self.key is not None else None
        if self._pool is None or key is None or key != self._key:
            self.close()
            pool = mp.get_context("fork").Pool(
                self.workers, initializer=_start, initargs=(self.owner, self.method, self.threads)
            )
            self._pool, self._key, self.forks = pool, key, self.forks + 1
            self._finalizer = weakref.finalize(owner, _end, pool)
        return self._pool.map(_call, batches, chunksize=1)

    def close(self) -> None:
        """End the worker processes (the next `map` forks new ones)."""
        if self._finalizer is not None:
            self._finalizer()
        self._pool = self._finalizer = None
