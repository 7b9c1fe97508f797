"""Train the built-in GPT policy by SFT on world solutions, with controlled mistakes."""

from __future__ import annotations

from dataclasses import dataclass, fields

from prmkit.data.converters import report_skipped
from prmkit.grade import read_world_problems
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPTConfig
from prmkit.models.policy_train import SFTSettings, train_policy
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import arithmetic


@dataclass(kw_only=True)
class Config(SFTSettings):
    """`prmkit policy train`: the SFT settings (`SFTSettings`), the model's shape and the files."""

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

    def check(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("--steps and --batch-size must be at least 1")
        if not 0 <= self.mistake_rate <= 1 or not 0 <= self.noop_rate <= 1:
            raise ValueError("--mistake-rate and --noop-rate must lie in [0, 1]")
        if not 0 <= self.drill_fraction < 1:
            raise ValueError("--drill-fraction must lie in [0, 1)")
        if self.d_model % self.n_head:
            raise ValueError("--d-model must be divisible by --n-head")


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    problems = read_world_problems(cfg.problems, invalid)
    skipped = report_skipped(invalid)
    gcfg = GPTConfig(
        CharTokenizer().vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.d_model
    )
    settings = SFTSettings(**{f.name: getattr(cfg, f.name) for f in fields(SFTSettings)})
    policy, log = train_policy([p.prompt for p in problems], gcfg, settings, cfg.progress)
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
