"""A GSM8K-style text world: free-text steps with calculator annotations.

GSM8K solutions (Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems")
are lines of text whose arithmetic is annotated `<<48/2=24>>`, ending in `#### 72`:

    prompt:   "Natalia sold clips to 48 of her friends in April, ..."
    solution: ["In May she sold 48/2 = <<48/2=24>>24 clips.",
               "In all she sold 48+24 = <<48+24=72>>72 clips.", "#### 72"]

The step checker evaluates each annotation's expression safely (a small arithmetic
interpreter over the parsed syntax tree, `worlds.calc`; never `eval`) and compares it
with the stated result at the precision the result is written with. A step without
annotations (what LLMs write) is checked by the free-text checker (`worlds.freetext`):
every equation it states whose sides read as arithmetic, `$12 \\times 5 = 60$`.
It checks the arithmetic only: a step can reason wrongly with true arithmetic, and
what cannot be read is taken as correct. So `grade` localizes arithmetic errors; a
wrong final answer with no arithmetic error is blamed on the answer step (reason
says so). Final answers are read as `#### x`, `\\boxed{x}`, `The answer is x`, or a
line `A: x` (`worlds.answers`).

Imports nothing of prmkit outside `worlds`.
"""

from __future__ import annotations

import re

from prmkit.worlds.answers import find_answer, numeric_answer
from prmkit.worlds.base import AFTER, ERROR, OK, Grade
from prmkit.worlds.calc import decimals, parse_number, safe_eval
from prmkit.worlds.freetext import check_text

NAME = "gsm8k"
TURNS = False
MAX_NEW_TOKENS = 96  # the policy tokens a sample gets by default (`prmkit sample`)
ANNOTATION = re.compile(r"<<([^<>]*)>>")
_FINAL = re.compile(r"####\s*(.+?)\s*$")


def check_annotation(body: str) -> str | None:
    """None if the annotation `expr=result` holds, else why not.

    The result may be rounded: it must match the value at the number of decimals it is
    written with (`<<10/3=3.33>>` holds, `<<10/3=3.3>>` holds, `<<10/3=4>>` does not).
    """
    if "=" not in body:
        return f"annotation <<{body}>> has no '='"
    expr, result = body.rsplit("=", 1)
    want = parse_number(result)
    if want is None:
        return f"annotation <<{body}>>: result {result.strip()!r} is not a number"
    try:
        got = safe_eval(expr)
    except (ValueError, ArithmeticError, RecursionError) as e:
        return f"annotation <<{body}>>: {e}"
    tol = 0.5 * 10 ** (-decimals(result)) + 1e-9 * max(1.0, abs(got))
    if abs(got - want) > tol:
        return f"calculator: {expr.strip()} is {got:g}, not {result.strip()}"
    return None


def check_step(step: str) -> str | None:
    """None if the step's arithmetic holds, else the first failure: its calculator
    annotations when it has any, else the equations it states in free text
    (`freetext.check_text`: `3 + 4 = 7`, `$12 \\times 5 = 60$`)."""
    if "<<" not in step:
        return check_text(step)
    for m in ANNOTATION.finditer(step):
        why = check_annotation(m.group(1))
        if why is not None:
            return why
    return None


def normalize_answer(text: str) -> str:
    """Canonical answer text: '1,200.00' -> '1200', '$5.' -> '5', '18 dollars' -> '18',
    '\\boxed{18}' -> '18'; text that is not one number is returned stripped."""
    v = numeric_answer(text)
    if v is None:
        v = parse_number(text)
    if v is None:
        return text.strip()
    return str(int(v)) if v == int(v) else repr(v)


def same_answer(a: str, b: str) -> bool:
    """Whether two answers are the same number (or text) once normalized."""
    return normalize_answer(a) == normalize_answer(b)


def extract_answer(steps: list[str]) -> str | None:
    """The answer the last step states, normalized; None if it states none. Read:
    `#### x`, `\\boxed{x}`, `The answer is x`, a line `A: x` or `Answer: x`."""
    if not steps:
        return None
    raw = find_answer(steps[-1])
    return None if raw is None else normalize_answer(raw)


def grade(prompt: str, reference: str, steps: list[str], partial: bool = False) -> Grade:
    """Calculator-annotation check of every step, and final-answer correctness.

    partial: the steps are an unfinished prefix, so a missing final answer is no error.
    """
    del prompt  # free text: nothing to parse
    status, first, reason = [], -1, None
    for i, step in enumerate(steps):
        if first >= 0:
            status.append(AFTER)
            continue
        why = (
            "step after the final answer"
            if i > 0 and _FINAL.search(steps[i - 1])
            else check_step(step)
        )
        status.append(OK if why is None else ERROR)
        if why is not None:
            first, reason = i, why
    final = extract_answer(steps)
    if first < 0 and steps and not partial:
        if final is None:
            first, reason = len(steps) - 1, "ends without a final answer"
        elif not same_answer(final, str(reference)):
            first = len(steps) - 1
            reason = f"final answer {final} is not {normalize_answer(str(reference))} (no arithmetic error found)"
        if first >= 0:
            status[-1] = ERROR
    correct = first < 0 and final is not None and same_answer(final, str(reference))
    return Grade(
        correct=correct, first_error=first, final_answer=final, status=status, reason=reason
    )


def local_errors(prompt: str, steps: list[str]) -> list[str | None]:
    """Each step's own calculator check, whatever came before it (None: it holds).

    `grade` marks every step after the first failure AFTER; this judges each step
    alone, as a step verifier that reads one step at a time does.
    """
    del prompt
    return [
        "step after the final answer" if i > 0 and _FINAL.search(steps[i - 1]) else check_step(s)
        for i, s in enumerate(steps)
    ]


def solution_steps(answer: str) -> list[str]:
    """A GSM8K `answer` field as steps: one per non-empty line, `#### x` the last."""
    return [line.strip() for line in answer.splitlines() if line.strip()]


def from_gsm8k(record: dict, pid: str) -> dict:
    """A GSM8K record {'question', 'answer'} as a problem dict (Problem.from_dict reads it)."""
    steps = solution_steps(str(record["answer"]))
    final = extract_answer(steps)
    if final is None:
        raise ValueError("GSM8K answer has no '#### x' line")
    return {
        "id": pid,
        "prompt": str(record["question"]).strip(),
        "answer": final,
        "meta": {"world": NAME},
    }
