"""Train the built-in GPT as a tool-use agent by SFT on expert trajectories with mistakes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from prmkit.agents.builtin import builtin_agent
from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.data import InputError, Problem, iter_jsonl
from prmkit.models.builtin import POLICY_KIND, BuiltinPolicy
from prmkit.models.checkpoint import read_config
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
    init: str = ""
    """continue training this agent checkpoint (its shape replaces the --d-model/--n-layer/
    --n-head/--block-size flags), e.g. to change the mix of mistakes and no-op lookups;
    empty: a fresh model"""
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


def load_agent(path: str) -> BuiltinPolicy:
    """A built-in agent checkpoint to continue; anything else is the user's error."""
    cfg = read_config(path, POLICY_KIND)
    if cfg.get("backend") != "builtin" or cfg.get("world") != "toolqa":
        raise InputError("--init must be a built-in toolqa agent (from `prmkit agent train`)", path)
    return BuiltinPolicy.load(path, cfg)


def run(cfg: Config) -> dict:
    problems = read_questions(cfg.problems)
    gcfg = cfg.gpt_config()
    settings = AgentSFTSettings(**{f.name: getattr(cfg, f.name) for f in fields(AgentSFTSettings)})
    init = load_agent(cfg.init) if cfg.init else None
    prompts = [p.prompt for p in problems]
    policy, log = train_agent_policy(prompts, gcfg, settings, cfg.progress, init)
    extra = {"mistake_rate": cfg.mistake_rate, "noop_rate": cfg.noop_rate}
    if cfg.init:
        extra["init"] = cfg.init
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
