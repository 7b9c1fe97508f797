"""Ranges of numeric settings, declared next to the fields and checked before a run.

A config dataclass lists its numeric fields' ranges in a class variable:

    RANGES: ClassVar[dict[str, str]] = {"temperature": ">= 0", "top_p": "(0, 1]"}

A range is `> x`, `>= x`, `< x`, `<= x`, an interval `[a, b]`, `(a, b]`, `[a, b)`,
`(a, b)`, or `any`. Subclasses inherit their bases' ranges. NaN lies in no range;
None (an optional setting left unset) is not checked. Imports nothing of prmkit.
"""

from __future__ import annotations

import math
import operator


def _bound(text: str) -> float:
    return float(text.strip())


def in_range(value: float, spec: str) -> bool:
    """Whether `value` lies in the range `spec` (grammar in the module docstring)."""
    spec = spec.strip()
    if spec == "any":
        return not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, float) and math.isnan(value):
        return False
    for sym, op in (
        (">=", operator.ge),
        ("<=", operator.le),
        (">", operator.gt),
        ("<", operator.lt),
    ):
        if spec.startswith(sym):
            return op(value, _bound(spec[len(sym) :]))
    if spec[0] in "[(" and spec[-1] in "])" and "," in spec:
        lo, hi = (_bound(t) for t in spec[1:-1].split(","))
        low_ok = value >= lo if spec[0] == "[" else value > lo
        high_ok = value <= hi if spec[-1] == "]" else value < hi
        return low_ok and high_ok
    raise ValueError(f"not a range: {spec!r}")


def range_message(flag: str, spec: str) -> str:
    """`--top-p must lie in (0, 1]` or `--temperature must be >= 0`."""
    spec = spec.strip()
    if spec == "any":
        return f"{flag} must be a number"
    if spec[0] in "[(":
        return f"{flag} must lie in {spec}"
    return f"{flag} must be {spec}"


def declared_ranges(cls: type) -> dict[str, str]:
    """{field: range} from RANGES of the class and its bases (the subclass wins)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("RANGES", {}))
    return out


def check_ranges(cfg: object, flag=lambda name: "--" + name.rstrip("_").replace("_", "-")) -> None:
    """Raise ValueError naming the first setting outside its declared range."""
    for name, spec in declared_ranges(type(cfg)).items():
        value = getattr(cfg, name)
        if value is None or isinstance(value, bool):
            continue
        if not in_range(value, spec):
            raise ValueError(range_message(flag(name), spec))
