"""What every world module states (`World`) and what its grader returns (`Grade`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Per-step status values.
OK = "ok"  # correct and makes progress
NOOP = "noop"  # correct but useless (x*1=x, restating the current value)
ERROR = "error"  # the first wrong step
AFTER = "after_error"  # follows the first error


@dataclass
class Grade:
    """A world's exact verdict on one solution.

    correct: the final answer matches the reference and no step is wrong.
    first_error: index of the first wrong step, -1 if none.
    final_answer: the answer the solution states, None if it states none.
    status: per step, one of ok / noop / error / after_error.
    reason: why the first wrong step is wrong (None if correct).
    kind: the verifier's name for that error's category (a world's KINDS), where the
    world names them.
    """

    correct: bool
    first_error: int
    final_answer: str | None
    status: list[str] = field(default_factory=list)
    reason: str | None = None
    kind: str | None = None

    @property
    def n_noop(self) -> int:
        return sum(s == NOOP for s in self.status)

    def to_dict(self) -> dict:
        return {
            "correct": self.correct,
            "first_error": self.first_error,
            "final_answer": self.final_answer,
            "status": self.status,
            "reason": self.reason,
            "kind": self.kind,
        }


class World(Protocol):
    """The members every world module defines (`prmkit.worlds.WORLDS` maps a name to
    one); callers use them and never probe a world for what it has."""

    NAME: str
    TURNS: bool
    """whether a step is a tool-use turn, `action => observation` (`data.turns`)"""
    MAX_NEW_TOKENS: int
    """the policy tokens a sample gets by default (`prmkit sample --max-new-tokens`)"""

    def grade(self, prompt: str, reference: str, steps: list[str], partial: bool = False) -> Grade:
        """The exact verdict on a solution."""
        ...

    def extract_answer(self, steps: list[str]) -> str | None:
        """The final answer a solution states, None if it states none."""
        ...

    def local_errors(self, prompt: str, steps: list[str]) -> list[str | None]:
        """Each step judged on its own: why it is wrong, None where it is right."""
        ...

    def same_answer(self, a: str, reference: str) -> bool:
        """Whether a stated answer is the reference answer."""
        ...


def same_text(a: str, reference: str) -> bool:
    """Answers compared as text, white space at either end aside: the `same_answer` of a
    world whose answers are written one way."""
    return a.strip() == str(reference).strip()
