"""Which PRM a search uses, by name or path; and a noisy rule PRM for experiments.

`--prm rule` is the exact verifier (`prmkit.prm.base.RulePRM`): an oracle, so search
with it measures the policy's coverage rather than a PRM. `--prm noisy-rule:SIGMA`
(EXPERIMENTS ONLY) is that verifier blurred by Gaussian noise in logit space, a
stand-in for an imperfect trained PRM. Any other value is a trained PRM's path,
opened by `prmkit.prm.scoring.load_prm`.
"""

from __future__ import annotations

import hashlib
import math
import random

from prmkit.data import InputError
from prmkit.prm.base import RulePRM, StepScorer
from prmkit.prm.base import load_scorer as load_rule_or_trained


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


def load_scorer(
    spec: str | None, world: str = "arithmetic", *model_options, **kw
) -> StepScorer | None:
    """A StepScorer from `--prm`: rule, local-rule, noisy-rule[:SIGMA[:SEED]], or a PRM's
    directory (`model_options`: prm_format, device, dtype, batch_size, as
    `prmkit.prm.base.load_scorer` takes them). None gives None (methods that need no PRM)."""
    if spec is None or spec == "":
        return None
    name, *args = spec.split(":")
    if name == "noisy-rule":
        try:
            sigma = float(args[0]) if args else 1.0
            seed = int(args[1]) if len(args) > 1 else 0
        except ValueError:
            raise InputError(
                f"--prm {spec}: expected {name}:SIGMA[:SEED] with a number SIGMA and an integer SEED"
            ) from None
        if len(args) > 2 or sigma < 0:
            raise InputError(f"--prm {spec}: expected {name}:SIGMA[:SEED] with SIGMA >= 0")
        return NoisyRulePRM(sigma, seed=seed, world=world)
    return load_rule_or_trained(spec, world, *model_options, **kw)
