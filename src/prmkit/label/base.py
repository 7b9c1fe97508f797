"""What every labeling method shares: the context, batched rollouts, label assembly.

A method is a function `label(samples, ctx) -> list[Sample]`: it takes a chunk of
samples and returns them with `labels` filled in. Rollout methods (mc, omega,
progress) call `rollouts` once per round with every (sample, prefix) of the chunk, so
the policy sees one batched `continue_steps` call, never one item at a time.

Determinism: rollout j from prefix `n` of sample `id` is seeded with
`derive_seed(seed, id, n, j)` through per-prompt seeds, so an item's labels depend on
the run seed and the item only, not on the chunk it lands in, the engine, or a resume.
Rollout j is the same whatever k is (k=4 sees the first 4 of k=16) and whichever
method asks for it (mc and omega share rollouts where both look).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from prmkit.config import group
from prmkit.data import Sample, StepLabels
from prmkit.data.formats import first_error_from_hard
from prmkit.label.options import ConsensusOptions, JudgeOptions, OmegaOptions, PerturbOptions
from prmkit.models.generator import Generation, Generator, SamplingParams, continue_steps
from prmkit.models.sampling import derive_seed
from prmkit.worlds import World, get_world


class ItemError(ValueError):
    """One input item the method cannot label (reported at the item's line)."""

    def __init__(self, sample_id: str, message: str) -> None:
        super().__init__(message)
        self.sample_id = sample_id


@dataclass(kw_only=True)
class Settings:
    """What shapes an item's labels (besides the method): shared by a run's job and
    context, and the settings `prmkit label`'s Config inherits (the docstrings are its
    help; a method's options are flags --omega-*, --consensus-*, --judge-*, --perturb-*)."""

    RANGES: ClassVar[dict[str, str]] = {
        "k": ">= 1",
        "seed": ">= 0",
        "max_new_tokens": ">= 1",
        "temperature": ">= 0",
        "top_p": "(0, 1]",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    k: int = 8
    """rollouts per prefix (mc, omega, progress), or judge answers per solution (judge)"""
    seed: int = 0
    """run seed; each item's rollouts are seeded from it and the item id"""
    max_new_tokens: int | None = None
    """most tokens per rollout (default: the samples' world's: 96; toolqa 256, an episode's actions)"""
    temperature: float = 1.0
    """rollout sampling temperature"""
    top_p: float = 1.0
    """rollout nucleus sampling mass"""
    world: str = "auto"
    """world that reads answers and verifies steps: arithmetic, gsm8k, or auto (each sample's meta.world, else arithmetic)"""
    omega: OmegaOptions = group("omega", OmegaOptions)
    """omega's options"""
    consensus: ConsensusOptions = group("consensus", ConsensusOptions)
    """consensus's options"""
    judge: JudgeOptions = group("judge", JudgeOptions)
    """judge's options"""
    perturb: PerturbOptions = group("perturb", PerturbOptions)
    """perturb's options"""


@dataclass(kw_only=True)
class LabelContext(Settings):
    """Settings plus what a method needs loaded; built once per process (per Ray worker)."""

    generator: Generator | None = None
    policy_name: str = ""
    other: dict[str, Sample] = field(default_factory=dict)
    """consensus: the second label set, by sample id"""
    judge_template_text: str = ""
    """judge: the prompt template's text ('' = the default prompt)"""


def world_of(sample: Sample, ctx: LabelContext):
    """The world whose `extract_answer`/`grade` applies: --world, else the sample's own."""
    name = ctx.world if ctx.world != "auto" else sample.meta.get("world", "arithmetic")
    return get_world(name)


def same_answer(world: World, a: str | None, reference: str) -> bool:
    """Whether a stated answer (None: none stated) is the reference, as the world says."""
    return a is not None and world.same_answer(a, reference)


def is_complete(sample: Sample, ctx: LabelContext) -> bool:
    """The solution states its final answer: continuing the full prefix adds nothing."""
    return world_of(sample, ctx).extract_answer(sample.steps) is not None


def full_outcome(sample: Sample, ctx: LabelContext) -> bool:
    """Whether a complete solution's own final answer is right (its terminal value)."""
    w = world_of(sample, ctx)
    return same_answer(w, w.extract_answer(sample.steps), sample.reference)


@dataclass
class Probe:
    """k rollouts from the first `n` steps of a sample, and what they showed."""

    sample: Sample
    n: int
    gens: list[Generation] = field(default_factory=list)
    success: list[bool] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(g.token_ids) for g in self.gens)

    @property
    def hits(self) -> int:
        return sum(self.success)


def rollouts(ctx: LabelContext, wanted: list[tuple[Sample, int, int, int]]) -> list[Probe]:
    """Completions for each (sample, prefix length n, first rollout j0, count), in ONE
    generate call: rollouts j0..j0+count-1 from the first n steps of the sample.

    Rollout j from prefix n of a sample is seeded `derive_seed(seed, id, n, j)`: the
    same rollout whatever k, chunk, engine or method asks for it. A completion
    succeeds when prefix + completion states the reference answer (the world's
    `extract_answer`; the steps themselves are not checked).
    """
    if not wanted:
        return []
    if ctx.generator is None:
        raise ValueError("this labeling method needs a policy (--policy)")
    items, seeds = [], []
    for s, n, j0, count in wanted:
        items += [(s.prompt, s.steps[:n])] * count
        seeds += [derive_seed(ctx.seed, s.id, n, j) for j in range(j0, j0 + count)]
    params = SamplingParams(
        n=1,
        max_new_tokens=ctx.max_new_tokens,
        temperature=ctx.temperature,
        top_p=ctx.top_p,
        seeds=seeds,
    )
    flat = [g[0] for g in continue_steps(ctx.generator, items, params)]
    out, at = [], 0
    for s, n, _, count in wanted:
        gs, at = flat[at : at + count], at + count
        w = world_of(s, ctx)
        ok = [same_answer(w, w.extract_answer(s.steps[:n] + g.steps), s.reference) for g in gs]
        out.append(Probe(s, n, gs, ok))
    return out


def provenance(method: str, ctx: LabelContext, rollouts: int, tokens: int, **extra: Any) -> dict:
    """The provenance every rollout label carries."""
    p = {
        "method": method,
        "k": ctx.k,
        "rollouts": rollouts,
        "tokens": tokens,
        "seed": ctx.seed,
        "policy": ctx.policy_name,
        "temperature": ctx.temperature,
        "max_new_tokens": ctx.max_new_tokens,
    }
    return p | extra


def with_labels(
    sample: Sample, hard: list[bool], soft: list[float] | None, prov: dict, meta: dict | None = None
) -> Sample:
    """A copy of the sample carrying these labels (first_error derived from hard)."""
    labels = StepLabels(
        first_error=first_error_from_hard(hard), hard=hard, soft=soft, provenance=prov
    )
    return dataclasses.replace(sample, labels=labels, meta=sample.meta | (meta or {}))


def truncate(sample: Sample, m: int) -> Sample:
    """The sample cut to its first m steps (an unfinished prefix).

    The exact grade is kept where it still applies: an error inside the prefix stays,
    one beyond it becomes -1; a prefix has no final answer, so `correct` is unknown.
    """
    fe = sample.first_error
    meta = sample.meta | {"truncated_from": len(sample.steps)}
    if isinstance(meta.get("status"), list):
        meta["status"] = meta["status"][:m]
    return dataclasses.replace(
        sample,
        steps=sample.steps[:m],
        first_error=None if fe is None else (fe if 0 <= fe < m else -1),
        correct=None,
        final_answer=None,
        meta=meta,
    )
