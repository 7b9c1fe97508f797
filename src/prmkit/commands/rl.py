"""RL with process rewards: GRPO/RLOO with token-level credit (sum, min, clip, delta, ...),
over single-pass solutions (arithmetic) or multi-turn agent trajectories (toolqa)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Literal

from prmkit.data import InputError, Problem
from prmkit.data.converters import report_skipped
from prmkit.grade import read_world_problems
from prmkit.models.load import load_local_policy
from prmkit.prm.options import PrefixedPRMOptions
from prmkit.rl.agent import TurnRLTrainer, load_agent_policy
from prmkit.rl.report import plot_curves
from prmkit.rl.trainer import RLSettings, train_rl
from prmkit.worlds import get_world


@dataclass(kw_only=True)
class Config(PrefixedPRMOptions, RLSettings):
    """`prmkit rl`: the trainer's settings (`RLSettings`, documented there) and the run's inputs and outputs."""

    RANGES: ClassVar[dict[str, str]] = {
        "n_problems": ">= 1",
        "problem_seed": ">= 0",
        "save_every": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    policy: str
    """policy to train: a prmkit policy checkpoint or a local Hugging Face causal-LM folder (--world toolqa: an `agent train` checkpoint)"""
    out: str
    """output directory: metrics.jsonl, settings.json, rl_*.png curves, policy/ (the trained policy)"""
    prm: str = "rule"
    """the PRM for --reward prm: 'rule' (the world's exact verifier: 0 from the first error on), 'local-rule' (its step checker: each step judged on its own, so correct work after a mistake scores 1), a trained PRM folder, or PRM+rule / PRM+local-rule (the checker in front: each step scores the lower of the two)"""
    prover: str | None = None
    """the prover policy whose progress --reward pav rewards: a prmkit policy checkpoint or a local Hugging Face folder (default: --policy as it starts, kept fixed)"""
    problems: str | None = None
    """training problems (JSONL) of --world; default: --n-problems fresh problems of the world"""
    n_problems: int = 2000
    """how many training problems to generate when --problems is not given"""
    problem_seed: int = 0
    """seed of the generated problems (held-out ones use this + 10000), apart from --seed"""
    eval_problems: str | None = None
    """held-out problems for evaluation (JSONL); default: generated with another seed"""
    progress: bool = True
    """show a progress bar"""
    save_every: int = 20
    """write OUT/checkpoint.pt (weights, optimizers, RNG states, metrics) every this many steps, atomically (0: never)"""
    resume: bool = False
    """continue from OUT/checkpoint.pt if there is one (same settings); otherwise start afresh"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    world: Literal["arithmetic", "toolqa"] = "arithmetic"
    """world of the problems and of the grader: arithmetic (single-pass solutions) or toolqa (multi-turn episodes of a built-in agent, observations masked; see docs/rl-agents.md)"""


def settings_from(cfg: Config) -> RLSettings:
    """The trainer's part of the command's config."""
    return RLSettings(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(RLSettings)})


def _problems(path: str | None, n: int, seed: int, world: str, invalid=None) -> list[Problem]:
    if path:
        return read_world_problems(path, invalid, world)
    return [Problem.from_dict(d) for d in get_world(world).generate(n, seed=seed)]


def summarize(rows: list[dict]) -> dict:
    """First and last figures of a run: means over the first and last 5 training steps."""
    tr = [r for r in rows if "accuracy" in r]
    ev = [r for r in rows if "eval_accuracy" in r]
    k = min(5, len(tr))
    out: dict = {}
    keys = ["accuracy", "reward", "steps_per_solution", "noop_frac", "wasted_frac", "kl", "entropy"]
    keys += [key for key in ("turns_per_trajectory", "noop_turns") if tr and key in tr[0]]
    for key in keys:
        out[f"{key}_first"] = round(sum(r[key] for r in tr[:k]) / k, 4)
        out[f"{key}_last"] = round(sum(r[key] for r in tr[-k:]) / k, 4)
    if ev:
        out["eval_accuracy_first"] = ev[0]["eval_accuracy"]
        out["eval_accuracy_last"] = ev[-1]["eval_accuracy"]
    return out


def run(cfg: Config) -> dict:
    t0 = time.time()
    trainer_cls = None
    if cfg.world == "toolqa":
        policy, max_turns = load_agent_policy(cfg.policy, cfg.world)
        trainer_cls = partial(TurnRLTrainer, max_turns=max_turns)
    else:
        policy = load_local_policy(cfg.policy)
    scorer = None
    if cfg.reward == "prm":
        scorer = cfg.load_prm(cfg.prm, cfg.world)
    prover = load_local_policy(cfg.prover or cfg.policy) if cfg.reward == "pav" else None
    invalid = [] if cfg.skip_invalid else None
    problems = _problems(cfg.problems, cfg.n_problems, cfg.problem_seed, cfg.world, invalid)
    evals = (
        _problems(cfg.eval_problems, cfg.n_eval, cfg.problem_seed + 10_000, cfg.world, invalid)
        if cfg.n_eval > 0
        else []
    )
    skipped = report_skipped(invalid)
    s = settings_from(cfg)
    try:
        policy, rows = train_rl(
            policy,
            problems,
            s,
            scorer,
            evals,
            cfg.out,
            cfg.progress,
            cfg.save_every,
            cfg.resume,
            prover,
            trainer_cls,
        )
    except ValueError as e:  # e.g. a prompt outside the built-in tokenizer's vocabulary
        raise InputError(str(e), cfg.problems or cfg.policy) from None
    from prmkit.rl.rollout import PolicyAdapter

    credit_used = None if cfg.reward in ("outcome", "pav") else cfg.credit  # no credit method
    PolicyAdapter(policy).save(
        f"{cfg.out}/policy",
        {"rl": {"reward": cfg.reward, "credit": credit_used, "steps": cfg.steps, "seed": cfg.seed}},
    )
    plots = plot_curves(rows, cfg.out, f"{cfg.reward}/{credit_used}" if credit_used else cfg.reward)
    return {
        "command": "rl",
        "out": cfg.out,
        "reward": cfg.reward,
        "credit": credit_used,
        "steps": cfg.steps,
        "metrics": f"{cfg.out}/metrics.jsonl",
        "plots": len(plots),
        "skipped": skipped,
        "seconds": round(time.time() - t0, 1),
    } | summarize(rows)
