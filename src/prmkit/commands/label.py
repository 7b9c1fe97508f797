"""Label solution steps automatically: mc, omega, progress, verify, judge, consensus."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, Literal

from prmkit.label.base import Settings
from prmkit.label.engine import NEEDS_POLICY, LabelJob, run_labeling
from prmkit.label.options import MISTAKES
from prmkit.worlds import WORLDS


@dataclass(kw_only=True)
class Config(Settings):
    """`prmkit label`: what shapes the labels (`label.base.Settings`, the methods'
    options among them), the method, the files and the engine."""

    RANGES: ClassVar[dict[str, str]] = {"chunk": ">= 1", "num_cpus": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    method: Literal["mc", "omega", "progress", "verify", "judge", "consensus", "perturb"]
    """labeling method: mc (Math-Shepherd), omega (OmegaPRM binary search), progress (Setlur et al. advantages), verify (the world's rule verifier), judge (an LLM over an OpenAI-compatible endpoint), consensus (keep steps where --in and --with agree), perturb (one controlled mistake injected into a correct GSM8K reference, docs/label-perturb.md)"""
    in_: str
    """samples to label (JSONL from `prmkit sample`; for consensus: the first label set; for perturb: GSM8K records with calculator annotations)"""
    out: str
    """labeled samples (JSONL); an existing file is resumed: its ids are skipped"""
    policy: str = ""
    """policy for rollouts (mc, omega, progress): a prmkit checkpoint or a local Hugging Face model folder"""
    chunk: int = 64
    """items per batched generation call (and per write)"""
    with_: str = ""
    """consensus: the second label set (JSONL), matched to --in by sample id"""
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
        bad = set(self.perturb.mistakes) - set(MISTAKES)
        if bad or not self.perturb.mistakes:
            raise ValueError(f"--perturb-mistakes takes kinds from {', '.join(MISTAKES)}")

    def job(self) -> LabelJob:
        shared = {f.name: getattr(self, f.name) for f in fields(Settings)}
        return LabelJob(**shared, method=self.method, policy=self.policy, with_path=self.with_)


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
