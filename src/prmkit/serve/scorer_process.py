"""A StepScorer whose model lives in a child process.

In one process, Python's GIL serializes the HTTP event loop and the scorer's Python
work (encoding, collating, launching each small torch op), so a server uses about one
core however many it has. With the scorer in its own process the two run on separate
cores; only the items and the scores cross the pipe (pickled, a few kB a batch).
vLLM separates its API server from its engine for the same reason.

The child builds its scorer with `factory(*args)` (a module-level function, so it can
be pickled under the spawn start method). Errors keep their meaning across the pipe: a
scorer's ValueError, KeyError, IndexError or InputError comes back as the same type
(the server answers 422), anything else as RuntimeError (500). If the child dies, the
call that was running raises RuntimeError and the next call starts a new child.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing as mp
import threading
from collections.abc import Callable

from prmkit.data import InputError

CLIENT_ERRORS = (ValueError, KeyError, IndexError, InputError)
"""What a scorer raises for an item it cannot score (the server answers 422); anything
else is a fault of the PRM itself (500)."""


def _encode_error(e: BaseException) -> tuple:
    for t in CLIENT_ERRORS:
        if isinstance(e, t):
            return (t.__name__, str(e.args[0]) if e.args else "")
    return ("RuntimeError", f"{type(e).__name__}: {e}")


def _decode_error(err: tuple) -> Exception:
    name, msg = err
    return {t.__name__: t for t in CLIENT_ERRORS}.get(name, RuntimeError)(msg)


def _child(conn, factory: Callable, args: tuple, threads: int) -> None:
    import torch

    torch.set_flush_denormal(True)  # fp32 on CPU runs 2-4x slower with denormals
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        scorer = factory(*args)
    except BaseException as e:  # reported to the parent, which raises it
        conn.send(("error", _encode_error(e)))
        return
    gc.collect()
    gc.freeze()  # the model never becomes garbage: keep torch's objects out of GC passes
    conn.send(("ready", scorer.kind))
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or exited
            return
        if items is None:
            return
        try:
            conn.send(("ok", scorer.score(items)))
        except Exception as e:
            conn.send(("error", _encode_error(e)))


class ScorerProcess:
    """`factory(*args)` run in a child process, behind the StepScorer protocol.

    threads: torch intra-op threads in the child (0 keeps torch's default).
    daemon: False lets the child fork processes of its own (an encoder PRM's scoring
    workers); such a child is closed at exit by this process (a daemonic one is ended
    by multiprocessing), and either kind ends when this process dies (its pipe closes).
    Construction waits until the child has built its scorer and raises its error if it
    could not (an InputError stays an InputError, so the CLI prints FILE: message).
    """

    def __init__(self, factory: Callable, *args, threads: int = 0, daemon: bool = True) -> None:
        self.factory, self.args, self.threads, self.daemon = factory, args, threads, daemon
        self.lock = threading.Lock()
        self.starts = 0
        self.proc = self.conn = None
        self.kind = "?"
        if not daemon:  # runs before multiprocessing's own exit hook joins its children
            atexit.register(self.close)
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # fork would copy torch's thread pools mid-use
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_child,
            args=(child, self.factory, self.args, self.threads),
            daemon=self.daemon,
            name="prm-scorer",
        )
        self.proc.start()
        child.close()
        self.starts += 1
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(5)
            raise RuntimeError(
                f"the scoring process exited while loading (exit code {self.proc.exitcode})"
            ) from None
        if status == "error":
            self.proc.join(5)
            raise _decode_error(payload)
        self.kind = payload

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        with self.lock:
            if not self.alive():
                self._start()
            try:
                self.conn.send(items)
                status, payload = self.conn.recv()
            except (EOFError, OSError):  # BrokenPipeError is an OSError
                self.proc.join(5)
                raise RuntimeError(
                    f"the scoring process exited (exit code {self.proc.exitcode}); "
                    "the next call starts a new one"
                ) from None
        if status == "error":
            raise _decode_error(payload)
        return payload

    def close(self) -> None:
        with self.lock:
            if self.alive():
                try:
                    self.conn.send(None)
                except OSError:
                    pass
                self.proc.join(10)
                if self.proc.is_alive():
                    self.proc.kill()
                    self.proc.join()
            if self.conn is not None:
                self.conn.close()
