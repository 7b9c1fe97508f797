"""Train the built-in GPT policy by SFT on world solutions, with controlled mistakes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.data.converters import report_skipped
from prmkit.grade import read_world_problems
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPTConfig
from prmkit.models.policy_train import SFTSettings, train_policy
from prmkit.models.tokenizer import CharTokenizer
from prmkit.models.train_state import TrainState
from prmkit.worlds import arithmetic


@dataclass(kw_only=True)
class Config(SFTSettings):
    """`prmkit policy train`: the SFT settings (`SFTSettings`), the model's shape and the files."""

    RANGES: ClassVar[dict[str, str]] = {
        "steps": ">= 1",
        "warmup": ">= 0",
        "weight_decay": ">= 0",
        "batch_size": ">= 1",
        "lr": "> 0",
        "mistake_rate": "[0, 1]",
        "noop_rate": "[0, 1]",
        "drill_fraction": "[0, 1)",
        "d_model": ">= 1",
        "n_layer": ">= 1",
        "n_head": ">= 1",
        "block_size": ">= 8",
        "eval_problems": ">= 0",
        "seed": ">= 0",
        "save_every": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    problems: str
    """training problems (JSONL from `prmkit world generate`)"""
    out: str
    """output directory for the checkpoint (model.safetensors + config.json)"""
    d_model: int = 128
    """transformer width"""
    n_layer: int = 4
    """transformer blocks"""
    n_head: int = 4
    """attention heads"""
    block_size: int = 160
    """longest sequence in tokens (prompt + solution)"""
    eval_problems: int = 200
    """after training, sample one solution for this many problems and report accuracy"""
    progress: bool = True
    """show a progress bar"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    save_every: int = 100
    """write OUT/checkpoint.pt (weights, optimizer, RNG states, metrics) every this many steps, atomically (0: never)"""
    resume: bool = False
    """continue from OUT/checkpoint.pt if there is one (same settings); otherwise start afresh"""

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError("--d-model must be divisible by --n-head")


def resume_settings(cfg: Config) -> dict:
    """The settings a resumed run must share with the checkpoint (all that shape training)."""
    skip = {"out", "progress", "save_every", "resume", "eval_problems"}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    problems = read_world_problems(cfg.problems, invalid)
    skipped = report_skipped(invalid)
    gcfg = GPTConfig(
        CharTokenizer().vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.d_model
    )
    settings = SFTSettings(**{f.name: getattr(cfg, f.name) for f in fields(SFTSettings)})
    state = TrainState(cfg.out, resume_settings(cfg), cfg.save_every, cfg.resume)
    policy, log = train_policy([p.prompt for p in problems], gcfg, settings, cfg.progress, state)
    policy.save(cfg.out, {"world": "arithmetic", "train": log | {"mistake_rate": cfg.mistake_rate}})
    summary = {"command": "policy train", "out": cfg.out, "skipped": skipped} | log
    if cfg.eval_problems > 0:
        ev = problems[: cfg.eval_problems]
        gens = continue_steps(
            policy, [(p.prompt, []) for p in ev], SamplingParams(n=1, seed=cfg.seed)
        )
        ok = sum(arithmetic.grade(p.prompt, p.answer, g[0].steps).correct for p, g in zip(ev, gens))
        summary["sample_accuracy"] = round(ok / len(ev), 4)
    return summary
