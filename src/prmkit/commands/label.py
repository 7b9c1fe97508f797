"""Label solution steps automatically: mc, omega, progress, verify, judge, consensus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.config import group
from prmkit.label.engine import NEEDS_POLICY, LabelJob, run_labeling
from prmkit.label.options import ConsensusOptions, JudgeOptions, OmegaOptions, PerturbOptions
from prmkit.label.perturb import MISTAKES
from prmkit.worlds import WORLDS


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {
        "k": ">= 1",
        "seed": ">= 0",
        "chunk": ">= 1",
        "max_new_tokens": ">= 1",
        "temperature": ">= 0",
        "top_p": "(0, 1]",
        "num_cpus": ">= 0",
        "perturb_correct": "[0, 1]",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    method: Literal["mc", "omega", "progress", "verify", "judge", "consensus", "perturb"]
    """labeling method: mc (Math-Shepherd), omega (OmegaPRM binary search), progress (Setlur et al. advantages), verify (the world's rule verifier), judge (an LLM over an OpenAI-compatible endpoint), consensus (keep steps where --in and --with agree), perturb (one controlled mistake injected into a correct GSM8K reference, docs/label-perturb.md)"""
    in_: str
    """samples to label (JSONL from `prmkit sample`; for consensus: the first label set; for perturb: GSM8K records with calculator annotations)"""
    out: str
    """labeled samples (JSONL); an existing file is resumed: its ids are skipped"""
    policy: str = ""
    """policy for rollouts (mc, omega, progress): a prmkit checkpoint or a local Hugging Face model folder"""
    k: int = 8
    """rollouts per prefix (mc, omega, progress), or judge answers per solution (judge)"""
    seed: int = 0
    """run seed; each item's rollouts are seeded from it and the item id"""
    chunk: int = 64
    """items per batched generation call (and per write)"""
    max_new_tokens: int = 96
    """most tokens per rollout"""
    temperature: float = 1.0
    """rollout sampling temperature"""
    top_p: float = 1.0
    """rollout nucleus sampling mass"""
    world: str = "auto"
    """world that reads answers and verifies steps: arithmetic, gsm8k, or auto (each sample's meta.world, else arithmetic)"""
    omega: OmegaOptions = group("omega", OmegaOptions)
    """omega's options (--omega-*)"""
    with_: str = ""
    """consensus: the second label set (JSONL), matched to --in by sample id"""
    consensus: ConsensusOptions = group("consensus", ConsensusOptions)
    """consensus's options (--consensus-*)"""
    judge: JudgeOptions = group("judge", JudgeOptions)
    """judge's options (--judge-*)"""
    perturb_correct: float = 0.4
    """perturb: fraction of references kept correct (the rest get one mistake each)"""
    perturb_mistakes: str = "arithmetic,copy,operation,skip,early,unit"
    """perturb: comma-separated mistake kinds to draw from (each tried in a random order)"""
    engine: Literal["local", "ray"] = "local"
    """local: this process; ray: chunks spread over Ray workers (pip install 'prmkit[ray]')"""
    address: str = ""
    """ray: address of a running Ray cluster (default: start a local one)"""
    num_cpus: int = 0
    """ray: workers (one CPU each); 0 = every CPU of the machine or cluster"""
    progress: bool = True
    """show a progress bar"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""

    def check(self) -> None:
        if self.method in NEEDS_POLICY and not self.policy:
            raise ValueError(f"--method {self.method} needs --policy")
        if self.method == "consensus" and not self.with_:
            raise ValueError("--method consensus needs --with (the second label set)")
        if self.method == "judge" and not self.judge.url:
            raise ValueError("--method judge needs --judge-url")
        if self.world != "auto" and self.world not in WORLDS:
            raise ValueError(f"--world must be auto or one of {sorted(WORLDS)}")
        if self.num_cpus < 0:
            raise ValueError("--num-cpus must be 0 or more")
        if not 0 <= self.perturb_correct <= 1:
            raise ValueError("--perturb-correct must lie in [0, 1]")
        bad = set(self.mistake_kinds()) - set(MISTAKES)
        if bad or not self.mistake_kinds():
            raise ValueError(f"--perturb-mistakes takes kinds from {', '.join(MISTAKES)}")

    def mistake_kinds(self) -> list[str]:
        return [k.strip() for k in self.perturb_mistakes.split(",") if k.strip()]

    def job(self) -> LabelJob:
        return LabelJob(
            method=self.method,
            policy=self.policy,
            k=self.k,
            seed=self.seed,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            world=self.world,
            with_path=self.with_,
            omega=self.omega,
            consensus=self.consensus,
            judge=self.judge,
            perturb=PerturbOptions(self.perturb_correct, tuple(self.mistake_kinds())),
        )


def run(cfg: Config) -> dict:
    return {"command": "label"} | run_labeling(
        cfg.job(),
        cfg.in_,
        cfg.out,
        cfg.chunk,
        cfg.engine,
        cfg.address,
        cfg.num_cpus or None,
        cfg.progress,
        cfg.skip_invalid,
    )
