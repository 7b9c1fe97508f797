"""What every PRM offers: per-step scores for (prompt, steps) items.

Search, RL and serving depend only on `StepScorer`, so a trained PRM, an implicit
PRM and the rule PRM below are interchangeable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Protocol

from tqdm import tqdm

from prmkit.data import InputError
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


def score_in_chunks(
    scorer: StepScorer,
    items: list[tuple[str, list[str]]],
    desc: str = "scoring",
    progress: bool = False,
    chunk: int = 256,
) -> list[list[float]]:
    """`scorer.score(items)` in chunks of `chunk` solutions under a progress bar on
    stderr; the same scores as one call (a model PRM batches within each chunk)."""
    out: list[list[float]] = []
    with tqdm(total=len(items), desc=desc, unit="sol", disable=not progress) as bar:
        for i in range(0, len(items), chunk):
            out += scorer.score(items[i : i + chunk])
            bar.update(len(items[i : i + chunk]))
    return out


RULE_PRMS = {"rule": RulePRM, "local-rule": LocalRulePRM}
"""The verifier PRMs, by the name `--prm` and `--model` take."""


PRMFormat = Literal["math-shepherd", "qwen-prm", "rlhflow", "skywork", "trl", "prmkit"]
"""What `--prm-format` takes: a published PRM's format (`prmkit.prm.published`) or prmkit's own."""

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
"""A Hugging Face hub id (owner/name): a published PRM fetched when the machine is online."""


def load_scorer(
    spec: str,
    world: str = "arithmetic",
    prm_format: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    **kw,
) -> StepScorer:
    """The StepScorer a `--prm` names: "rule" (the world's exact verifier), "local-rule"
    (its step checker, each step on its own), "rule:WORLD" / "local-rule:WORLD" (the
    world named, overriding `world`), a trained PRM's folder, or a published PRM's
    folder or hub id (`prmkit.prm.published`; `prm_format` names its format, else it
    is detected), or "critic:URL", a generative critic behind an OpenAI-compatible
    endpoint (`prmkit.prm.critic`; `kw` critic_model, critic_samples). device, dtype, batch_size and `kw` (max_tokens): where and how a
    model PRM runs (see `prmkit.prm.scoring.load_prm`).

    The one loader that RL, search, eval, score and the reward server share. Trained
    PRMs are imported only when asked for, so the rule PRMs load without model code.
    """
    critic = {k: kw.pop(k) for k in ("critic_model", "critic_samples") if k in kw}
    if spec.startswith("critic:"):
        from prmkit.prm.critic import load_critic

        return load_critic(spec, critic.get("critic_model"), critic.get("critic_samples"))
    if any(v is not None for v in critic.values()):
        raise InputError("--critic-model and --critic-samples apply to --prm critic:URL only", spec)
    name, _, named_world = spec.partition(":")
    if name in RULE_PRMS:
        try:
            return RULE_PRMS[name](named_world or world)
        except ValueError as e:
            raise InputError(str(e), spec) from None
    if not Path(spec).exists() and not HUB_ID.match(spec):
        raise InputError(
            "no such PRM directory (give rule, local-rule, a PRM's folder or a hub id)", spec
        )
    from prmkit.prm.scoring import load_prm

    return load_prm(spec, prm_format, device, dtype, batch_size, **kw)
