"""Train the built-in GPT policy by SFT on world solutions, with controlled mistakes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.data.converters import report_skipped
from prmkit.grade import read_world_problems
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.policy_train import GPTShape, SFTSettings, train_policy
from prmkit.models.train_state import TrainState
from prmkit.worlds import arithmetic


@dataclass(kw_only=True)
class Config(SFTSettings, GPTShape):
    """`prmkit policy train`: the SFT settings (`SFTSettings`), the model's shape
    (`GPTShape`) and the files."""

    RANGES: ClassVar[dict[str, str]] = {"eval_problems": ">= 0", "save_every": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    problems: str
    """training problems (JSONL from `prmkit world generate`)"""
    out: str
    """output directory for the checkpoint (model.safetensors + config.json)"""
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


def resume_settings(cfg: Config) -> dict:
    """The settings a resumed run must share with the checkpoint (all that shape training)."""
    skip = {"out", "progress", "save_every", "resume", "eval_problems"}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    problems = read_world_problems(cfg.problems, invalid)
    skipped = report_skipped(invalid)
    gcfg = cfg.gpt_config()
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
