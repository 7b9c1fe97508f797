"""Train the built-in GPT as a tool-use agent by SFT on expert trajectories with mistakes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.agents.builtin import builtin_agent
from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.data import InputError, Problem, iter_jsonl
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import toolqa


@dataclass(kw_only=True)
class Config(AgentSFTSettings):
    """`prmkit agent train`: the SFT settings (`AgentSFTSettings`), the model and the files."""

    RANGES: ClassVar[dict[str, str]] = {
        "steps": ">= 1",
        "warmup": ">= 0",
        "weight_decay": ">= 0",
        "batch_size": ">= 1",
        "lr": "> 0",
        "mistake_rate": "[0, 1]",
        "noop_rate": "[0, 1]",
        "d_model": ">= 1",
        "n_layer": ">= 1",
        "n_head": ">= 1",
        "block_size": ">= 8",
        "max_turns": ">= 1",
        "eval_problems": ">= 0",
        "seed": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    problems: str
    """training questions (JSONL from `prmkit world generate --world toolqa`)"""
    out: str
    """output directory for the checkpoint (model.safetensors + config.json)"""
    d_model: int = 128
    """transformer width"""
    n_layer: int = 4
    """transformer blocks"""
    n_head: int = 4
    """attention heads"""
    block_size: int = 384
    """longest episode in characters (question + turns); longer training rows are cut"""
    max_turns: int = 10
    """most turns per episode when the agent acts (stored in the checkpoint)"""
    eval_problems: int = 200
    """after training, run one episode for this many questions and report success"""
    progress: bool = True
    """show a progress bar"""

    def check(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.max_turns < 1:
            raise ValueError("--steps, --batch-size and --max-turns must be at least 1")
        if not 0 <= self.mistake_rate <= 1 or not 0 <= self.noop_rate <= 1:
            raise ValueError("--mistake-rate and --noop-rate must lie in [0, 1]")
        if self.d_model % self.n_head:
            raise ValueError("--d-model must be divisible by --n-head")


def read_questions(path: str) -> list[Problem]:
    """Questions from JSONL; each prompt must be a toolqa-world question."""
    out = []
    for i, p in enumerate(iter_jsonl(path, Problem.from_dict), start=1):
        try:
            toolqa.parse_prompt(p.prompt)
        except ValueError as e:
            raise InputError(str(e), path, i) from None
        out.append(p)
    if not out:
        raise InputError("file has no problems", path)
    return out


def run(cfg: Config) -> dict:
    problems = read_questions(cfg.problems)
    gcfg = GPTConfig(
        CharTokenizer().vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.d_model
    )
    settings = AgentSFTSettings(**{f.name: getattr(cfg, f.name) for f in fields(AgentSFTSettings)})
    policy, log = train_agent_policy([p.prompt for p in problems], gcfg, settings, cfg.progress)
    extra = {"mistake_rate": cfg.mistake_rate, "noop_rate": cfg.noop_rate}
    policy.save(cfg.out, {"world": "toolqa", "max_turns": cfg.max_turns, "train": log | extra})
    summary = {"command": "agent train", "out": cfg.out} | log
    if cfg.eval_problems > 0:
        ev = problems[: cfg.eval_problems]
        agent = builtin_agent(policy, "toolqa", cfg.max_turns)
        params = SamplingParams(n=1, seed=cfg.seed, max_new_tokens=256)
        gens = continue_steps(agent, [(p.prompt, []) for p in ev], params)
        ok = sum(toolqa.grade(p.prompt, p.answer, g[0].steps).correct for p, g in zip(ev, gens))
        summary["sample_success"] = round(ok / len(ev), 4)
    return summary
