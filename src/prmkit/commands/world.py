"""Generate world problems as JSONL (arithmetic chains or tool-use questions)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.data import InputError, write_jsonl
from prmkit.worlds import arithmetic, toolqa

_TOOLQA_FLAGS = ("min_hops", "max_hops", "calc_rate", "kb_scale")
_ARITH_FLAGS = ("min_ops", "max_ops", "max_operand", "max_start", "max_value", "operators")


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {
        "n": ">= 1",
        "seed": ">= 0",
        "min_ops": ">= 1",
        "max_ops": ">= 1",
        "max_operand": ">= 1",
        "max_start": ">= 1",
        "max_value": ">= 2",
        "min_hops": ">= 1",
        "max_hops": ">= 1",
        "calc_rate": "[0, 1]",
        "kb_scale": "[1, 6]",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    out: str
    """where to write the problems (JSONL, one problem per line)"""
    world: str = "arithmetic"
    """which world: arithmetic (operation chains) or toolqa (multi-hop tool-use questions)"""
    n: int = 1000
    """how many problems"""
    seed: int = 0
    """random seed: the same seed gives the same problems"""
    min_ops: int = 2
    """arithmetic: fewest operations per problem"""
    max_ops: int = 4
    """arithmetic: most operations per problem"""
    max_operand: int = 5
    """arithmetic: operands are drawn from 1..MAX_OPERAND"""
    max_start: int = 15
    """arithmetic: start values are drawn from 1..MAX_START"""
    max_value: int = 20
    """arithmetic: every intermediate value stays within 0..MAX_VALUE"""
    operators: str = "+-*"
    """arithmetic: operators that may appear, a subset of '+-*'"""
    min_hops: int = 2
    """toolqa: fewest `get` calls per question (tool calls = hops + 2, +1 with a calculation)"""
    max_hops: int = 4
    """toolqa: most `get` calls per question (at most 5, so at most 8 tool calls)"""
    calc_rate: float = 0.5
    """toolqa: fraction of questions that end with a calculation"""
    kb_scale: int = 1
    """toolqa: knowledge-base size, s times 14 people, 8 companies and 6 cities (1..6);
    the prompt reads `kb SEEDxS.` when above 1. Chains of relations meet about s times
    less often, so a look-alike pick reaches the right answer less often by chance"""

    def difficulty(self):
        if self.world == "toolqa":
            return toolqa.Difficulty(self.min_hops, self.max_hops, self.calc_rate, self.kb_scale)
        return arithmetic.Difficulty(
            self.min_ops,
            self.max_ops,
            self.max_operand,
            self.max_start,
            self.max_value,
            self.operators,
        )

    def check(self) -> None:
        if self.n < 1:
            raise ValueError("--n must be at least 1")
        if self.world not in ("arithmetic", "toolqa"):
            raise ValueError("--world must be arithmetic or toolqa")
        other = _ARITH_FLAGS if self.world == "toolqa" else _TOOLQA_FLAGS
        defaults = {f.name: f.default for f in fields(Config)}
        for name in other:
            if getattr(self, name) != defaults[name]:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} does not apply to --world {self.world}")
        self.difficulty().check()


def run(cfg: Config) -> dict:
    module = toolqa if cfg.world == "toolqa" else arithmetic
    try:
        problems = module.generate(cfg.n, cfg.seed, cfg.difficulty())
    except ValueError as e:
        raise InputError(str(e)) from None
    write_jsonl(cfg.out, problems)
    return {
        "command": "world generate",
        "world": cfg.world,
        "out": cfg.out,
        "n": len(problems),
        "seed": cfg.seed,
    }
