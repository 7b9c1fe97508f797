"""What every PRM offers: per-step scores for (prompt, steps) items.

Search, RL and serving depend only on `StepScorer`, so a trained PRM, an implicit
PRM and the rule PRM below are interchangeable.
"""

from __future__ import annotations

from typing import Protocol

from prmkit.worlds import get_world


class StepScorer(Protocol):
    kind: str

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """For each (problem prompt, steps): one score per step, the estimated
        probability that the step is correct (higher is better), in [0, 1]."""
        ...


class RulePRM:
    """A PRM from a world's exact verifier: 1 for steps before the first error, else 0.

    Partial solutions are judged as prefixes (a missing final answer is no error).
    """

    kind = "rule"

    def __init__(self, world: str = "arithmetic") -> None:
        self.world = get_world(world)

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        out = []
        for prompt, steps in items:
            g = self.world.grade(prompt, "", steps, partial=True)
            fe = g.first_error if g.first_error >= 0 else len(steps)
            out.append([1.0 if i < fe else 0.0 for i in range(len(steps))])
        return out
