"""A GSM8K-style text world: free-text steps with calculator annotations.

GSM8K solutions (Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems")
are lines of text whose arithmetic is annotated `<<48/2=24>>`, ending in `#### 72`:

    prompt:   "Natalia sold clips to 48 of her friends in April, ..."
    solution: ["In May she sold 48/2 = <<48/2=24>>24 clips.",
               "In all she sold 48+24 = <<48+24=72>>72 clips.", "#### 72"]

The step checker evaluates each annotation's expression safely (a small arithmetic
interpreter over the parsed syntax tree; never `eval`) and compares it with the stated
result at the precision the result is written with. It checks the arithmetic only:
a step with a true annotation can still reason wrongly, and a step without one is
taken as correct. So `grade` localizes calculator errors exactly; a wrong final
answer with every annotation true is blamed on the answer step (reason says so).

Imports nothing else of prmkit but the grade record.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from prmkit.worlds.base import AFTER, ERROR, OK, Grade

NAME = "gsm8k"
ANNOTATION = re.compile(r"<<([^<>]*)>>")
_FINAL = re.compile(r"####\s*(.+?)\s*$")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%(?!\s*[\d.(])")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)

MAX_EXPR_CHARS = 200
MAX_MAGNITUDE = 1e15
MAX_EXPONENT = 64

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _clean_number_text(text: str) -> str:
    t = text.strip().replace(",", "").replace("$", "").replace(" ", "")
    t = t.rstrip(".")
    if t.endswith("%"):
        t = t[:-1]
    return t


def parse_number(text: str) -> float | None:
    """A number as GSM8K writes it ('1,200', '$5', '0.50', '25%'), or None."""
    t = _clean_number_text(text)
    if not _NUMBER.match(t):
        return None
    v = float(t)
    return v if math.isfinite(v) else None


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(b) > MAX_EXPONENT or abs(a) > MAX_MAGNITUDE):
            raise ValueError("exponent too large")
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
            raise ValueError("division by zero")
        v = _BINOPS[type(node.op)](a, b)
        if isinstance(v, complex) or abs(v) > MAX_MAGNITUDE:
            raise ValueError("value out of range")
        return v
    raise ValueError(f"unsupported syntax {type(node).__name__}")


def safe_eval(expr: str) -> float:
    """Value of an arithmetic expression: numbers, + - * / // % **, parentheses.

    Thousands separators and `$` are stripped first (GSM8K writes `$1,200`); a number
    followed by `%` and no operand is a percentage (`20%*50` is 10, `7%4` is 3).
    Anything else (names, calls, attributes, huge powers) raises ValueError.
    """
    if len(expr) > MAX_EXPR_CHARS:
        raise ValueError("expression too long")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", expr).replace("$", "")
    text = _PERCENT.sub(r"(\1/100)", text)  # 20% -> (20/100); 7%4 stays a modulo
    text = text.replace("×", "*").replace("÷", "/")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expr!r}") from None
    return float(_eval(tree))


def _decimals(text: str) -> int:
    t = _clean_number_text(text)
    return len(t.split(".", 1)[1]) if "." in t and "e" not in t.lower() else 0


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
    tol = 0.5 * 10 ** (-_decimals(result)) + 1e-9 * max(1.0, abs(got))
    if abs(got - want) > tol:
        return f"calculator: {expr.strip()} is {got:g}, not {result.strip()}"
    return None


def check_step(step: str) -> str | None:
    """None if every calculator annotation in the step holds, else the first failure."""
    for m in ANNOTATION.finditer(step):
        why = check_annotation(m.group(1))
        if why is not None:
            return why
    return None


def normalize_answer(text: str) -> str:
    """Canonical answer text: '1,200.00' -> '1200', '$5' -> '5'; other text stripped."""
    v = parse_number(text)
    if v is None:
        return text.strip()
    return str(int(v)) if v == int(v) else repr(v)


def same_answer(a: str, b: str) -> bool:
    return normalize_answer(a) == normalize_answer(b)


def extract_answer(steps: list[str]) -> str | None:
    """The answer after `####` in the last step, normalized; None if it states none."""
    if not steps:
        return None
    m = _FINAL.search(steps[-1])
    return normalize_answer(m.group(1)) if m else None


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
            reason = f"final answer {final} is not {normalize_answer(str(reference))} (no calculator error found)"
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
