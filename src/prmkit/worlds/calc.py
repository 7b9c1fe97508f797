"""A safe arithmetic interpreter and number parsing, shared by the text worlds.

`safe_eval` evaluates numbers, + - * / // % ** and parentheses over Python's parsed
syntax tree (never `eval`), with limits on length, magnitude and exponents.
Imports nothing of prmkit.
"""

from __future__ import annotations

import ast
import math
import operator
import re

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


def decimals(text: str) -> int:
    """Decimals a number is written with: "3.50" -> 2, "12" -> 0."""
    t = _clean_number_text(text)
    return len(t.split(".", 1)[1]) if "." in t and "e" not in t.lower() else 0
