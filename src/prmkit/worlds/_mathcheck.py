"""math-verify with a timeout that works from any thread (the math world's checker).

math-verify (`parse`, `verify`) bounds its own run time with `signal.alarm`, which
raises off a process's main thread. Its timeouts are always off here; instead:

- `with_alarm`: on the main thread, a SIGALRM timer set and cleared around the check;
- `in_helper`: elsewhere, the check runs in a helper process (one per process, started
  on first use, shared under a lock); a check that overruns kills it, and the next
  call starts a new one. A daemonic process (a multiprocessing.Pool worker) may not
  start children: there the check runs in a thread that is abandoned on timeout.

Each returns False when the check times out or math-verify cannot parse an answer.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading

STARTUP_S = 300.0  # a helper's first import of sympy on a loaded machine is slow
_lock = threading.Lock()
_helper: dict = {}


def warm() -> None:
    """Load math-verify's LaTeX grammar (seconds on a loaded machine) once per process,
    outside any timeout, so that the first real check is not cut short by it."""
    if not _helper.get("warm"):
        check("\\frac{1}{2}", "0.5")
        _helper["warm"] = True


def check(answer: str, reference: str) -> bool:
    """math-verify's verdict, its own timeouts off (call under a timeout of your own)."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled": ours runs
    gold = parse(f"\\boxed{{{reference}}}", parsing_timeout=None)
    pred = parse(f"\\boxed{{{answer}}}", parsing_timeout=None)
    if not gold or not pred:
        return False
    return bool(verify(gold, pred, timeout_seconds=None))


class _Timeout(Exception):
    pass


def _raise(signum, frame):
    raise _Timeout


def with_alarm(answer: str, reference: str, timeout: float) -> bool:
    """`check` on the main thread, stopped by SIGALRM after `timeout` seconds."""
    warm()
    old = signal.signal(signal.SIGALRM, _raise)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        return check(answer, reference)
    except Exception:  # _Timeout, or an answer math-verify chokes on: no match
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _serve(conn) -> None:
    """The helper process: answer (answer, reference) pairs until the pipe closes."""
    warm()
    conn.send("ready")
    while True:
        try:
            answer, reference = conn.recv()
        except EOFError:
            return
        try:
            conn.send(check(answer, reference))
        except Exception:  # an answer math-verify chokes on is no match
            conn.send(False)


def _start() -> tuple:
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(there,), daemon=True, name="prmkit-math-verify")
    proc.start()
    if not here.poll(STARTUP_S) or here.recv() != "ready":
        proc.kill()
        raise RuntimeError("the math-verify helper process did not start")
    return proc, here


def _stop() -> None:
    proc, conn = _helper.pop("proc", None), _helper.pop("conn", None)
    if proc is not None:
        proc.kill()
        proc.join(5)
    if conn is not None:
        conn.close()


def in_helper(answer: str, reference: str, timeout: float) -> bool:
    """`check` in the helper process, killed (and later restarted) after `timeout` s."""
    if mp.current_process().daemon:
        return in_thread(answer, reference, timeout)
    with _lock:
        if "proc" not in _helper or not _helper["proc"].is_alive():
            _stop()
            _helper["proc"], _helper["conn"] = _start()
        conn = _helper["conn"]
        conn.send((answer, reference))
        if conn.poll(timeout):
            return bool(conn.recv())
        _stop()
        return False


def in_thread(answer: str, reference: str, timeout: float) -> bool:
    """`check` in a daemon thread, abandoned (left to finish) after `timeout` s."""
    with _lock:
        warm()
    out: list[bool] = []
    t = threading.Thread(target=lambda: out.append(_safe(answer, reference)), daemon=True)
    t.start()
    t.join(timeout)
    return bool(out and out[0])


def _safe(answer: str, reference: str) -> bool:
    try:
        return check(answer, reference)
    except Exception:
        return False
