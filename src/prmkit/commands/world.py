"""Generate arithmetic-world problems as JSONL."""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.data import InputError, write_jsonl
from prmkit.worlds.arithmetic import Difficulty, generate


@dataclass
class Config:
    out: str
    """where to write the problems (JSONL, one problem per line)"""
    n: int = 1000
    """how many problems"""
    seed: int = 0
    """random seed: the same seed gives the same problems"""
    min_ops: int = 2
    """fewest operations per problem"""
    max_ops: int = 4
    """most operations per problem"""
    max_operand: int = 5
    """operands are drawn from 1..MAX_OPERAND"""
    max_start: int = 15
    """start values are drawn from 1..MAX_START"""
    max_value: int = 20
    """every intermediate value stays within 0..MAX_VALUE"""
    operators: str = "+-*"
    """operators that may appear, a subset of '+-*'"""

    def difficulty(self) -> Difficulty:
        return Difficulty(
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
        self.difficulty().check()


def run(cfg: Config) -> dict:
    try:
        problems = generate(cfg.n, cfg.seed, cfg.difficulty())
    except ValueError as e:
        raise InputError(str(e)) from None
    write_jsonl(cfg.out, problems)
    return {"command": "world generate", "out": cfg.out, "n": len(problems), "seed": cfg.seed}
