"""A competition-math world: free-text solutions whose final answer is in `\\boxed{}`.

MATH (Hendrycks et al. 2021, "Measuring Mathematical Problem Solving With the MATH
Dataset") and MATH-500 write answers in LaTeX: `\\frac{3}{4}`, `(-\\infty, 2]`,
`2\\sqrt{3}`, `\\{1, 2\\}`. Two answers are the same when math-verify (Hugging Face's
answer checker; it parses LaTeX into SymPy) says they are equivalent, so 0.75 and
`\\frac34`, or `[1,2)` and `[1, 2)`, both count.

The answer is the content of the last `\\boxed{...}` (or `\\fbox{...}`) in the solution,
else what follows "the (final) answer is". There is no step checker: `grade` judges the
final answer only (a wrong answer is blamed on the last step) and `local_errors`
flags nothing, so `rule` on this world is an outcome verifier.

Timeouts: math-verify's own timeout uses `signal.alarm`, which works only on a
process's main thread. Here its timeout is always off and `equivalent` enforces one
itself: on the main thread by a SIGALRM timer of its own; elsewhere (a thread pool, a
server, a Ray actor's thread) by running the check in a helper process that is killed
and restarted when a check overruns. A check that times out counts as not equivalent.

Imports nothing else of prmkit but the grade record.
"""

from __future__ import annotations

import re
import threading

from prmkit.worlds import _mathcheck
from prmkit.worlds.base import ERROR, OK, Grade, same_text

NAME = "math"
TURNS = False
same_answer = same_text  # labelers compare answers as text; `grade` uses math-verify
MAX_NEW_TOKENS = 96  # the policy tokens a sample gets by default (`prmkit sample`)
TIMEOUT_S = 5.0
"""seconds one equivalence check may take before it counts as not equivalent"""

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_SAID = re.compile(r"(?:final answer|the answer)\s*(?:is|:)\s*(.+?)\s*$", re.IGNORECASE)


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in text (braces balanced), or None."""
    starts = [m.end() for m in _BOX.finditer(text)]
    for start in reversed(starts):
        depth, i = 1, start
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[start : i - 1].strip()
    return None


def extract_answer(steps: list[str]) -> str | None:
    """The last boxed answer in the solution; else 'the answer is X' in its last step."""
    for step in reversed(steps):
        boxed = last_boxed(step)
        if boxed is not None:
            return boxed
    if not steps:
        return None
    m = _SAID.search(steps[-1])
    if m is None:
        return None
    ans = m.group(1).strip().rstrip(".").strip()
    return ans.strip("$").strip() or None


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("\\left", "").replace("\\right", "").strip("$")


def equivalent(answer: str, reference: str, timeout: float = TIMEOUT_S) -> bool:
    """Whether `answer` and `reference` are the same mathematical object (math-verify),
    within `timeout` seconds from any thread or process; a timeout counts as False."""
    if _normal(answer) == _normal(reference):
        return True
    if threading.current_thread() is threading.main_thread():
        return _mathcheck.with_alarm(answer, reference, timeout)
    return _mathcheck.in_helper(answer, reference, timeout)


def grade(prompt: str, reference: str, steps: list[str], partial: bool = False) -> Grade:
    """Final-answer check (no step checker): correct iff the boxed answer is equivalent
    to the reference. A wrong or missing final answer is an error at the last step.

    partial: the steps are an unfinished prefix, so a missing final answer is no error.
    """
    del prompt
    status = [OK] * len(steps)
    final = extract_answer(steps)
    ref = str(reference).strip()
    right = final is not None and bool(ref) and equivalent(final, ref)
    first, reason = -1, None
    if steps and not partial and not right:
        first = len(steps) - 1
        if final is None:
            reason = "ends without a final answer (no \\boxed{})"
        else:
            reason = f"final answer {final} is not {ref}" if ref else "no reference answer"
        status[first] = ERROR
    return Grade(
        correct=right and first < 0,
        first_error=first,
        final_answer=final,
        status=status,
        reason=reason,
    )


def local_errors(prompt: str, steps: list[str]) -> list[str | None]:
    """No step checker in this world: no step is flagged on its own."""
    del prompt
    return [None] * len(steps)


def from_math(record: dict, pid: str) -> dict:
    """A MATH / MATH-500 record ({'problem', 'answer'} or {'problem', 'solution'}) as a
    problem dict (Problem.from_dict reads it); the answer is read from the solution's
    `\\boxed{}` when the record has no 'answer' field."""
    answer = record.get("answer")
    if answer is None:
        answer = last_boxed(str(record.get("solution", "")))
    if answer is None:
        raise ValueError("MATH record has no 'answer' and no \\boxed{} in its 'solution'")
    return {
        "id": str(record.get("unique_id", pid)),
        "prompt": str(record["problem"]).strip(),
        "answer": str(answer),
        "meta": {"world": NAME}
        | {k: record[k] for k in ("level", "subject", "type") if k in record},
    }
