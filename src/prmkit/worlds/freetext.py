"""A checker of arithmetic written in free text: `3 + 4 = 7`, `$12 \\times 5 = 60$`.

Real solutions (GSM8K answers by LLMs, ProcessBench) carry no calculator annotations;
they state their arithmetic in prose, Markdown or LaTeX. This checker finds every
equation `LEFT = RIGHT` whose two sides are plain arithmetic (numbers, + - * / ^ %,
parentheses, `\\times`, `\\cdot`, `\\div`, `×`, `÷`, `\\frac{a}{b}`, thousands commas,
`$`), evaluates both sides with the same safe interpreter as the calculator
annotations (`calc.safe_eval`, never `eval`), and reports a step whose stated
equation is false.

It is conservative by design. A side is read only when it stands alone: a side glued
to a letter (`2x = 10`, `f(2) = 5`, `a_1 = 3`), cut off by a word that acts as an
operator (`half of 18 = 9`, `3 times 4 = 12`, `= 1.5 million`) or that fails to parse
(`2 1/2`, `\\sqrt{4}`) is skipped, and so is an equation with no operator on either
side (`x = 5`, `25% = 50`). `≈`, `\\approx`, `<=`, `>=`, `!=`, `==` are not equations.
A written result may be rounded: it must match at the decimals it is written with
(`10/3 = 3.33` holds, `7/2 = 3` holds, `7/2 = 4.5` does not).

Imports nothing of prmkit but the shared interpreter (`worlds.calc`).
"""

from __future__ import annotations

import re

from prmkit.worlds.calc import safe_eval

# ---- normalisation: LaTeX and Unicode to plain arithmetic ---------------------------

_TEXT_CMD = r"\\(?:text|mathrm|textbf|mbox|operatorname|textit)\s*\{([^{}]*)\}"
_UNIT = re.compile(r"(\d\s*)" + _TEXT_CMD)  # `2 \text{ books}`: a unit after a number
_TEXT = re.compile(_TEXT_CMD)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_FRAC_SHORT = re.compile(r"\\[dt]?frac\s*(\d)\s*(\d)")  # \frac12
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES_X = re.compile(r"(?<=[\d)])[ \t]*[xX][ \t]*(?=[\d(])")
_REPLACE = [
    ("\\left", ""),
    ("\\right", ""),
    ("\\times", "*"),
    ("\\cdot", "*"),
    ("\\div", "/"),
    ("\\%", "%"),
    ("\\$", "$"),
    ("\\,", ""),
    ("\\!", ""),
    ("\\;", " "),
    ("\\ ", " "),
    ("\\(", " "),
    ("\\)", " "),
    ("\\[", "\n"),
    ("\\]", "\n"),
    ("×", "*"),
    ("·", "*"),
    ("∗", "*"),
    ("⋅", "*"),
    ("÷", "/"),
    ("½", "(1/2)"),
    ("¼", "(1/4)"),
    ("¾", "(3/4)"),
    ("⅓", "(1/3)"),
    ("⅔", "(2/3)"),
    ("−", "-"),
    ("–", "-"),
    ("**", " "),  # Markdown bold; a power is written ^ in prose and LaTeX
]


def normalize(text: str) -> str:
    """Prose, Markdown and LaTeX arithmetic as plain arithmetic text (`^` for powers)."""
    t, n = text, 1
    while n:  # units after numbers go (`2 \text{ books} \times 3`); other text stays words
        t, n = _UNIT.subn(r"\1 ", t)
    t = _TEXT.sub(r" \1 ", t)
    for _ in range(3):  # nested fractions, innermost first
        t = _FRAC.sub(r"((\1)/(\2))", t)
    t = _FRAC_SHORT.sub(r"((\1)/(\2))", t)
    for a, b in _REPLACE:
        t = t.replace(a, b)
    t = t.replace("{", "(").replace("}", ")")
    t = _BULLET.sub("", t)
    t = _THOUSANDS.sub("", t)
    return _TIMES_X.sub("*", t)


# ---- equations ---------------------------------------------------------------------

_ARITH = set("0123456789.+-*/^()% $")
_OPERATOR = re.compile(r"(?<=[\d)%.])\s*[-+*/^]\s*(?=[\d(.$])")
# words that act on a neighbouring number: the side next to them is not the whole operand
_OP_WORDS = frozenset(
    "of times by plus minus over divided multiplied half twice double triple thrice "
    "quarter third fifth tenth percent less more than per into from squared cubed root "
    "sqrt hundred thousand million billion dozen remainder quotient mod r x cents cent "
    "and halves thirds quarters fourths".split()
)
_WORD_BEFORE = re.compile(r"(\\?)([A-Za-z]+)\s*$")
_WORD_AFTER = re.compile(r"^\s*(\\?)([A-Za-z]+)")
_GLUE = re.compile(r"[A-Za-z0-9_\\'\"|!<>=~\],:]")
_MODULO = re.compile(r"%\s*[\d(]")  # `30/100%1000`: prose never means a modulo
# `25 / 1/3`: a division by a written fraction, read either way
_TWO_DIVISIONS = re.compile(r"/\s*[\d.]+\s*/")


def _arith_at(t: str, i: int) -> bool:
    """t[i] can belong to an arithmetic side; a period only as a decimal point."""
    c = t[i]
    if c == ".":
        return i + 1 < len(t) and t[i + 1].isdigit()
    return c in _ARITH


def _left_side(t: str, eq: int) -> str | None:
    """The arithmetic just before t[eq] (an '='), or None if it does not stand alone."""
    i = eq
    while i > 0 and _arith_at(t, i - 1):
        i -= 1
    core = t[i:eq].strip()
    start = eq - len(t[i:eq].lstrip())
    while core.startswith("(") and core.count("(") > core.count(")"):
        core = core[1:].lstrip()
    if not core or core[0] in "+*/^%" or (start > 0 and _GLUE.match(t[start - 1])):
        return None
    before = t[:start].rstrip()
    if core[0] == "-" and before and before[-1] not in "=([{:,;":
        return None  # `apples - 8 = ...`, `|S| - 8 = ...`: the minus has a left operand
    m = _WORD_BEFORE.search(t[:start])
    if m and (m.group(1) or m.group(2).lower() in _OP_WORDS or core[0] == "("):
        return None  # `\\pi (1.5)^3`, `half of 18`, `\\log_x (100)`, `C (9)`: more to it
    return core


def _right_side(t: str, eq: int) -> str | None:
    """The arithmetic just after t[eq] (an '='), or None if it does not stand alone."""
    j = eq + 1
    while j < len(t) and _arith_at(t, j):
        j += 1
    core = t[eq + 1 : j].rstrip()
    end = eq + 1 + len(core)
    core = core.strip()
    while core.endswith(")") and core.count(")") > core.count("("):
        core = core[:-1].rstrip()
    if not core or core[-1] in "+-*/^" or (end < len(t) and _GLUE.match(t[end])):
        return None
    if t[end : end + 1] == "." and t[end + 1 : end + 2].strip():
        return None  # `0.\\overline{6}`
    m = _WORD_AFTER.search(t[end:])
    if m and (m.group(1) or m.group(2).lower() in _OP_WORDS):
        return None  # `= -2 \\log_x 10`, `= 7 remainder 2`, `= 1.5 million`: more to it
    return core


def _is_equals(t: str, k: int) -> bool:
    """t[k] is '=' standing alone (not part of <=, >=, !=, ==, :=, =>)."""
    before = t[k - 1] if k > 0 else ""
    after = t[k + 1] if k + 1 < len(t) else ""
    return before not in "<>!=:" and after not in "=>"


def _value(side: str) -> float | None:
    if _TWO_DIVISIONS.search(side) or _MODULO.search(side):
        return None
    expr = side.replace("^", "**").replace("$", "")
    if not expr.strip() or expr.count("(") != expr.count(")"):
        return None
    try:
        return safe_eval(expr)
    except (ValueError, ArithmeticError, RecursionError, TypeError):
        return None


def _lone_number(side: str) -> tuple[int, float] | None:
    """(decimals written, scale) of a side that is one number, e.g. '3.33' -> (2, 1)."""
    s = side.replace("$", "").strip()
    pct = s.endswith("%")
    s = s.rstrip("%").strip()
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", s):
        return None
    dec = len(s.split(".", 1)[1]) if "." in s else 0
    return dec, (0.01 if pct else 1.0)


def _tolerance(left: str, right: str, a: float, b: float) -> float:
    """How far apart two sides may be: half a unit of the last written decimal of a
    side that is one number (rounded results); else a relative 1e-6."""
    tol = 1e-6 * max(1.0, abs(a), abs(b))
    for side in (right, left):
        lone = _lone_number(side)
        if lone is not None:
            dec, scale = lone
            return max(tol, 0.5 * 10.0 ** (-dec) * scale + 1e-9 * max(1.0, abs(a)))
    return tol


def equations(step: str) -> list[tuple[str, str]]:
    """Every `left = right` in a step whose two sides read as arithmetic, in order;
    the left side must hold an operator (a lone number on the left is a definition
    or a unit conversion: `2 dozen = 2 \\times 12`)."""
    t = normalize(step)
    out = []
    for k, ch in enumerate(t):
        if ch != "=" or not _is_equals(t, k):
            continue
        left, right = _left_side(t, k), _right_side(t, k)
        if left is None or right is None:
            continue
        if not _OPERATOR.search(left):
            continue  # `2 dozen = 2 * 12`, `x = 5`: a lone left side is a definition
        out.append((left, right))
    return out


def check_equation(left: str, right: str, rel_tol: float = 0.0) -> str | None:
    """None if `left = right` holds (within rel_tol, relative, if given) or cannot be
    evaluated, else why it is false."""
    a, b = _value(left), _value(right)
    if a is None or b is None:
        return None
    if abs(a - b) <= max(_tolerance(left, right, a, b), rel_tol * max(abs(a), abs(b))):
        return None
    if "%" in left or "%" in right:
        # `0.2 * 100 = 20%`, `1.2 x 100% = 120`: a percent read as a number of percent
        for lt, rt in ((left, right.replace("%", "")), (left.replace("%", ""), right)):
            la, rb = _value(lt), _value(rt)
            if la is not None and rb is not None and abs(la - rb) <= _tolerance(lt, rt, la, rb):
                return None
    return f"arithmetic: {left} is {a:g}, not {right}"


# a step that tests a claim and rejects it states false equations on purpose
_REFUTES = re.compile(
    r"\b(?:false|not true|contradiction|impossible|incorrect|does not hold|doesn't hold|"
    r"not satisf\w*|not equal)\b|\\neq|≠",
    re.IGNORECASE,
)
_APPROX = re.compile(r"approx|roughly|about|≈|\\sim", re.IGNORECASE)


def check_text(step: str) -> str | None:
    """None if every equation the step states holds (or none can be read), else the
    first false one. A step that refutes a claim (`2 + 1 = 1 (false)`) is not judged;
    one that says it approximates (`approximately`, `≈`) is allowed 1%."""
    if "=" not in step or _REFUTES.search(step):
        return None
    rel_tol = 0.01 if _APPROX.search(step) else 0.0
    for left, right in equations(step):
        why = check_equation(left, right, rel_tol)
        if why is not None:
            return why
    return None
