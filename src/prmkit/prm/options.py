"""How a command opens the PRM it scores with, and scores a file's samples with it.

`PRMOptions` are `load_scorer`'s options as command settings: a command's Config
inherits them (`eval processbench`, `score`; `serve prm` takes `ModelPRMOptions`), so
each flag is defined and documented once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.data import InputError, Sample
from prmkit.prm.base import RULE_PRMS, load_scorer, score_in_chunks
from prmkit.prm.rule import split_checker
from prmkit.prm.scorer import PRMFormat, StepScorer
from prmkit.worlds import guess_world


@dataclass(kw_only=True)
class ModelPRMOptions:
    """Where and how a model PRM runs (`load_scorer`'s prm_format, device, dtype,
    batch_size, quantize and workers)."""

    RANGES: ClassVar[dict[str, str]] = {"batch_size": ">= 1", "workers": ">= 1"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    batch_size: int | None = None
    """most solutions per forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""
    quantize: Literal["none", "int8"] = "none"
    """int8: an encoder PRM scores on CPU with its encoder's Linear layers in int8 (dynamic, SmoothQuant-smoothed; docs/prm-encoder.md); none: fp32, the reference"""
    workers: int = 1
    """an encoder PRM on CPU: 1 scores in the scoring process on its torch threads (OMP_NUM_THREADS, serve prm's --threads); N >= 2 scores the passes of each call in N forked processes of one thread each, the same scores as one process at one thread, to float rounding (speed: docs/prm-encoder.md)"""

    def model_args(self) -> tuple:
        """(prm_format, device, dtype, batch_size, quantize): `load_scorer`'s arguments
        after the spec and the world."""
        return (self.prm_format, self.device, self.dtype, self.batch_size, self.quantize)


@dataclass(kw_only=True)
class PRMOptions(ModelPRMOptions):
    """`ModelPRMOptions` and the options of an LLM critic as a PRM (`--prm critic:URL`)."""

    RANGES: ClassVar[dict[str, str]] = {"critic_samples": ">= 1"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    critic_model: str | None = None
    """--prm critic:URL: the served model's name (default: the first the endpoint lists at /models)"""
    critic_samples: int | None = None
    """--prm critic:URL: critiques per solution, majority-voted (default 1, at temperature 0)"""

    def load(self, spec: str, world: str, **kw) -> StepScorer:
        """`load_scorer(spec, world, ...)` with these options; `kw`: max_tokens."""
        return load_scorer(
            spec,
            world,
            *self.model_args(),
            critic_model=self.critic_model,
            critic_samples=self.critic_samples,
            workers=self.workers,
            **kw,
        )


@dataclass(kw_only=True)
class PrefixedPRMOptions:
    """`ModelPRMOptions` named `--prm-*`, for commands whose own `--device` or
    `--batch-size` mean the policy's (`search`, `rl`)."""

    RANGES: ClassVar[dict[str, str]] = {"prm_batch_size": ">= 1", "prm_workers": ">= 1"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    prm_device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    prm_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    prm_batch_size: int | None = None
    """most solutions per PRM forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""
    prm_quantize: Literal["none", "int8"] = "none"
    """int8: an encoder PRM scores on CPU with its encoder's Linear layers in int8 (docs/prm-encoder.md); none: fp32"""
    prm_workers: int = 1
    """an encoder PRM on CPU: N >= 2 scores its passes in N forked processes of one thread each, the same scores as one process at one thread, to float rounding"""

    def load_prm(self, spec: str, world: str, **kw) -> StepScorer:
        """`load_scorer(spec, world, ...)` with these options; `kw`: critic options."""
        opts = (self.prm_format, self.prm_device, self.prm_dtype, self.prm_batch_size)
        return load_scorer(spec, world, *opts, self.prm_quantize, workers=self.prm_workers, **kw)


def rule_world(spec: str, world: str, first: Sample) -> str | None:
    """The world whose checker the rule PRM `spec` uses (or the checker of `PRM+rule`):
    the one it names (rule:gsm8k), else `world`, else (`world` auto) the first
    sample's (`guess_world`). None when `spec` has no rule PRM, and then a `world`
    other than auto is an InputError."""
    checker = split_checker(spec)[1]
    name, _, named = (checker or spec).partition(":")
    if name not in RULE_PRMS:
        if world != "auto":
            raise InputError("--world sets a rule PRM's checker; this PRM is not one", spec)
        return None
    return named or (world if world != "auto" else guess_world(first.prompt, first.meta))


def score_samples(
    prm: StepScorer, samples: list[Sample], path: str, desc: str = "", progress: bool = False
) -> list[list[float]]:
    """Step scores of every sample, in chunks under a progress bar on stderr; a
    solution the PRM cannot read is an InputError naming the file (and its record)."""
    items = [(s.prompt, s.steps) for s in samples]
    try:
        return score_in_chunks(prm, items, desc or "scoring", progress)
    except ValueError as e:
        raise InputError(str(e), path) from None
