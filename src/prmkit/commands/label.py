"""Label solution steps automatically: mc, omega, progress, verify, judge, consensus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

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
        "judge_temperature": ">= 0",
        "judge_max_tokens": ">= 1",
        "judge_timeout": "> 0",
        "judge_retries": ">= 0",
        "judge_concurrency": ">= 1",
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
    omega_after: Literal["negative", "truncate"] = "negative"
    """omega: steps after the first error are labeled wrong (negative) or dropped from the sample (truncate)"""
    omega_early_stop: bool = True
    """omega: draw a probe's k rollouts in waves and stop at the first success (same labels, fewer rollouts)"""
    with_: str = ""
    """consensus: the second label set (JSONL), matched to --in by sample id"""
    consensus_mode: Literal["step", "first_error"] = "step"
    """consensus: keep the agreeing prefix of steps (step), or whole samples whose first errors agree (first_error)"""
    judge_url: str = ""
    """judge: base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1"""
    judge_model: str = "judge"
    """judge: model name sent to the endpoint"""
    judge_api: Literal["chat", "completions"] = "chat"
    """judge: POST to /chat/completions or to /completions"""
    judge_template: str = ""
    """judge: `processbench` (the paper's critic prompt), or a prompt template file with {problem}, {steps} or {tagged_steps}, {n_steps} (default: a ProcessBench-style prompt over numbered steps)"""
    judge_temperature: float = 0.7
    """judge: sampling temperature of the judge's answers"""
    judge_max_tokens: int = 512
    """judge: most tokens per answer"""
    judge_api_key_env: str = "OPENAI_API_KEY"
    """judge: environment variable holding the API key (sent as a Bearer token if set)"""
    judge_timeout: float = 60.0
    """judge: seconds per HTTP request"""
    judge_retries: int = 3
    """judge: retries of a failed request (429, 5xx, connection errors), with backoff"""
    judge_concurrency: int = 4
    """judge: requests in flight at once"""
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
        if self.method == "judge" and not self.judge_url:
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
        judge = JudgeOptions(
            self.judge_url,
            self.judge_model,
            self.judge_api,
            self.judge_template,
            self.judge_temperature,
            self.judge_max_tokens,
            self.judge_api_key_env,
            self.judge_timeout,
            self.judge_retries,
            self.judge_concurrency,
        )
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
            omega=OmegaOptions(self.omega_after, self.omega_early_stop),
            consensus=ConsensusOptions(self.consensus_mode),
            judge=judge,
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
