"""PRMs from a world's exact verifier: no model, no training; the oracle to compare with."""

from __future__ import annotations

from prmkit.worlds import get_world


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


class LocalRulePRM:
    """A PRM from a world's step checker applied to each step on its own: 1 or 0.

    Where `RulePRM` scores every step from the first error on 0, this one judges a
    step against what the solution itself has stated (`world.local_errors`), so
    correct work after a mistake scores 1. Real step verifiers behave like this
    when they check one step at a time. Under min-form credit, a solution's steps
    after its last mistake get full credit, and the outcome reward does not give that.
    """

    kind = "local-rule"

    def __init__(self, world: str = "arithmetic") -> None:
        self.world = get_world(world)

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        return [
            [0.0 if why else 1.0 for why in self.world.local_errors(prompt, steps)]
            for prompt, steps in items
        ]


RULE_PRMS = {"rule": RulePRM, "local-rule": LocalRulePRM}
"""The verifier PRMs, by the name `--prm` and `--model` take."""
