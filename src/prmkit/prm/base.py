"""What every PRM offers: per-step scores for (prompt, steps) items.

Search, RL and serving depend only on `StepScorer`, so a trained PRM, an implicit
PRM and the rule PRMs (`prmkit.prm.rule`) are interchangeable; `load_scorer` opens
any of them by name or folder.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from prmkit.data import InputError
from prmkit.prm.rule import (
    RULE_PRMS,
    CheckedPRM,
    LocalRulePRM,
    NoisyRulePRM,
    RulePRM,
    split_checker,
)
from prmkit.prm.scorer import HUB_ID, PRMFormat, StepScorer


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
            try:
                out += scorer.score(items[i : i + chunk])
            except ValueError as e:
                raise ValueError(_unreadable(scorer, items, i, chunk) or str(e)) from None
            bar.update(len(items[i : i + chunk]))
    return out


def _unreadable(scorer: StepScorer, items: list, start: int, chunk: int) -> str | None:
    """Which solution of a failed chunk the PRM cannot read, as "record N: why" (N counts
    the items from 1, the order of the input file's records); None if each alone scores."""
    for k in range(start, min(start + chunk, len(items))):
        try:
            scorer.score([items[k]])
        except ValueError as e:
            return f"record {k + 1}: {e}"
    return None


def noisy_rule(spec: str, world: str = "arithmetic") -> NoisyRulePRM:
    """`noisy-rule[:SIGMA[:SEED]]` as a NoisyRulePRM (SIGMA 1.0 and SEED 0 by default)."""
    _, *args = spec.split(":")
    try:
        sigma = float(args[0]) if args else 1.0
        seed = int(args[1]) if len(args) > 1 else 0
    except ValueError:
        raise InputError(
            f"--prm {spec}: expected noisy-rule:SIGMA[:SEED] with a number SIGMA and an integer SEED"
        ) from None
    if len(args) > 2 or sigma < 0:
        raise InputError(f"--prm {spec}: expected noisy-rule:SIGMA[:SEED] with SIGMA >= 0")
    return NoisyRulePRM(sigma, seed=seed, world=world)


def load_scorer(
    spec: str,
    world: str = "arithmetic",
    prm_format: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    quantize: str = "none",
    **kw,
) -> StepScorer:
    """The StepScorer a `--prm` names: "rule" (the world's exact verifier), "local-rule"
    (its step checker, each step on its own), "rule:WORLD" / "local-rule:WORLD" (the
    world named, overriding `world`), "noisy-rule[:SIGMA[:SEED]]" (experiments only),
    a trained PRM's folder, a published PRM's folder or hub id (`prmkit.prm.published`;
    `prm_format` names its format, else it is detected), "critic:URL", a generative
    critic behind an OpenAI-compatible endpoint (`prmkit.prm.critic`; `kw`
    critic_model, critic_samples), or any of these with a checker in front,
    "PRM+rule[:WORLD]" / "PRM+local-rule[:WORLD]" (`CheckedPRM`: each step scores the
    lower of the PRM's score and the checker's; the options below apply to PRM).
    device, dtype, batch_size, quantize and `kw` (max_tokens, workers): where and how a
    model PRM runs (see `prmkit.prm.scoring.load_prm`).

    The one loader that RL, search, eval, score and the reward server share. Trained
    PRMs are imported only when asked for, so the rule PRMs load without model code.
    """
    base, checker = split_checker(spec)
    if checker is not None:
        if not base:
            raise InputError("expected PRM+rule[:WORLD]: a PRM before the +", spec)
        opened = load_scorer(base, world, prm_format, device, dtype, batch_size, quantize, **kw)
        return CheckedPRM(opened, load_scorer(checker, world))
    critic = {k: kw.pop(k) for k in ("critic_model", "critic_samples") if k in kw}
    name, _, named_world = spec.partition(":")
    if name in ("critic", "noisy-rule") or name in RULE_PRMS:
        if quantize != "none":
            raise InputError(f"--quantize {quantize} applies to encoder PRMs only", spec)
        if kw.get("workers", 1) != 1:
            raise InputError(f"--workers {kw['workers']} applies to encoder PRMs only", spec)
    if spec.startswith("critic:"):
        from prmkit.prm.critic import load_critic

        return load_critic(spec, critic.get("critic_model"), critic.get("critic_samples"))
    if any(v is not None for v in critic.values()):
        raise InputError("--critic-model and --critic-samples apply to --prm critic:URL only", spec)
    if name == "noisy-rule":
        return noisy_rule(spec, world)
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

    return load_prm(spec, prm_format, device, dtype, batch_size, quantize, **kw)


__all__ = [
    "HUB_ID",
    "CheckedPRM",
    "PRMFormat",
    "RULE_PRMS",
    "LocalRulePRM",
    "NoisyRulePRM",
    "RulePRM",
    "StepScorer",
    "load_scorer",
]
