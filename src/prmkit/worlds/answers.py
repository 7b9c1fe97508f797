"""Final answers as solutions write them: `#### 18`, `A: 18`, `The answer is 18`, `\\boxed{18}`.

`find_answer(text)` returns the raw answer text a solution states (None if it states
none); `numeric_answer(text)` reads a number out of it, forgiving thousands commas,
`$` and `\\$`, a trailing period, `%`, LaTeX wrappers and units (`18 dollars`,
`\\boxed{30 \\text{ flamingos}}`). Imports nothing of prmkit.
"""

from __future__ import annotations

import re

_HASHES = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*(.+?)\s*(?:\.\s|\.$|\n|$)", re.IGNORECASE
)
_A_LINE = re.compile(r"^\s*(?:A|Answer|Final answer)\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{([^{}]*)\}")
_LEADING_NUMBER = re.compile(r"^[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)")
# what may follow a number that is the whole answer: nothing, units, punctuation
_AFTER_NUMBER = re.compile(r"^(?:\s*%?\s*(?:[A-Za-z][A-Za-z .'/-]*)?[.)]?\s*)$")


def _braced(text: str, start: int) -> str | None:
    """The text inside the brace group that opens just before `start`, or None."""
    depth, i = 1, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (nested braces allowed), or None."""
    found = None
    for m in _BOXED.finditer(text):
        inner = _braced(text, m.end())
        if inner is not None:
            found = inner
    return found


def find_answer(text: str) -> str | None:
    """The answer a solution's text states, by the first form present (from the last
    occurrence): `#### x`, `\\boxed{x}`, `The answer is x`, a line `A: x` / `Answer: x`."""
    m = list(_HASHES.finditer(text))
    if m:
        return m[-1].group(1)
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    for pat in (_ANSWER_IS, _A_LINE):
        m = list(pat.finditer(text))
        if m:
            inner = m[-1].group(1)
            return last_boxed(inner) or inner
    return None


def _strip_latex(text: str) -> str:
    t = _LATEX_TEXT.sub(r" \1", text)
    for a in ("\\(", "\\)", "\\[", "\\]", "\\$", "\\%", "\\,", "\\!", "$"):
        t = t.replace(a, " " if a not in ("\\%",) else "%")
    return " ".join(t.split())


def numeric_answer(text: str) -> float | None:
    """The number an answer text states, or None when it is not one plain number.

    '1,200' -> 1200, '$18.' -> 18, '\\$5' -> 5, '18 dollars' -> 18, '12%' -> 12,
    '-3' -> -3; '3/4', '2 + 3', 'x = 5' and 'eighteen' -> None.
    """
    t = _strip_latex(text).strip().rstrip(".").strip()
    m = _LEADING_NUMBER.match(t)
    if not m or not _AFTER_NUMBER.match(t[m.end() :]):
        return None
    num = m.group(0)
    if "," in num and not re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", num):
        return None
    try:
        return float(num.replace(",", ""))
    except ValueError:
        return None
