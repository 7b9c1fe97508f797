"""Train the built-in GPT as a tool-use agent by SFT on expert trajectories with mistakes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.agents.builtin import builtin_agent
from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.data import InputError, Problem, iter_jsonl
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.policy_train import GPTShape
from prmkit.worlds import toolqa


@dataclass(kw_only=True)
class Config(AgentSFTSettings, GPTShape):
    """`prmkit agent train`: the SFT settings (`AgentSFTSettings`), the model's shape
    (`GPTShape`) and the files."""

    RANGES: ClassVar[dict[str, str]] = {"max_turns": ">= 1", "eval_problems": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    problems: str
    """training questions (JSONL from `prmkit world generate --world toolqa`)"""
    out: str
    """output directory for the checkpoint (model.safetensors + config.json)"""
    block_size: int = 384
    """longest episode in characters (question + turns); longer training rows are cut"""
    max_turns: int = 10
    """most turns per episode when the agent acts (stored in the checkpoint)"""
    eval_problems: int = 200
    """after training, run one episode for this many questions and report success"""
    progress: bool = True
    """show a progress bar"""


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
    gcfg = cfg.gpt_config()
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
