"""PRMs from a world's exact verifier: no model, no training; the oracle to compare with.

`RulePRM` scores every step from the first error on 0; `LocalRulePRM` judges each
step on its own; `CheckedPRM` puts one of them in front of another PRM (`--prm
PRM+rule`); `NoisyRulePRM` (EXPERIMENTS ONLY) blurs the exact labels by Gaussian
noise in logit space, a stand-in for an imperfect trained PRM.
"""

from __future__ import annotations

import hashlib
import math
import random

from prmkit.prm.scorer import StepScorer
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


class NoisyRulePRM:
    """EXPERIMENTS ONLY: the exact verifier's step labels y_i in {0, 1}, blurred.

    score_i = sigmoid(margin * (2 y_i - 1) + sigma * z_i), z_i ~ N(0, 1), where z_i is
    fixed by (seed, prompt, steps[:i+1]): the same prefix always gets the same score,
    as it would from a real PRM, so beam search and early rejection see consistent
    scores. Its last score is a noisy outcome score (the last label is 1 exactly when
    no step is wrong), so `--aggregate last` ranks as an ORM would.
    """

    kind = "noisy-rule"

    def __init__(
        self, sigma: float = 1.0, margin: float = 2.0, seed: int = 0, world: str = "arithmetic"
    ) -> None:
        self.rule = RulePRM(world)
        self.sigma, self.margin, self.seed = sigma, margin, seed

    def _z(self, prompt: str, steps: list[str]) -> float:
        h = hashlib.blake2b(repr((self.seed, prompt, steps)).encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(h, "little")).gauss(0.0, 1.0)

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        out = []
        for (prompt, steps), exact in zip(items, self.rule.score(items)):
            row = []
            for i, y in enumerate(exact):
                logit = self.margin * (2 * y - 1) + self.sigma * self._z(prompt, steps[: i + 1])
                row.append(1 / (1 + math.exp(-logit)))
            out.append(row)
        return out


RULE_PRMS = {"rule": RulePRM, "local-rule": LocalRulePRM}
"""The verifier PRMs, by the name `--prm` and `--model` take."""


class CheckedPRM:
    """A PRM with a world's checker in front: each step scores the lower of the two.

    The checker is a rule PRM: `RulePRM` scores 0 from the first step it finds false
    on, `LocalRulePRM` 0 at each such step, and 1 elsewhere, so the PRM's own score
    stands wherever the checker finds nothing. A learned PRM misses errors that an
    exact check finds at once (a false equation in a real LLM's solution: the gsm8k
    world's free-text checker), and the checker says nothing about the rest.
    """

    kind = "checked"

    def __init__(self, base: StepScorer, checker: RulePRM | LocalRulePRM) -> None:
        self.base, self.checker = base, checker

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        base, check = self.base.score(items), self.checker.score(items)
        return [[min(a, b) for a, b in zip(p, c)] for p, c in zip(base, check)]


def split_checker(spec: str) -> tuple[str, str | None]:
    """`PRM+rule[:WORLD]` / `PRM+local-rule[:WORLD]` -> (PRM, checker spec); any other
    spec -> (spec, None). The last `+` splits, so a folder's name may hold one."""
    base, plus, checker = spec.rpartition("+")
    if plus and checker.partition(":")[0] in RULE_PRMS:
        return base, checker
    return spec, None
