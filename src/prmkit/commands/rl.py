"""RL with process rewards: GRPO/RLOO with token-level credit (sum, min, clip, delta, ...)."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Literal

from prmkit.commands.policy import read_world_problems
from prmkit.data import InputError, Problem
from prmkit.models.load import load_generator
from prmkit.rl.integrations import load_scorer
from prmkit.rl.trainer import RLSettings, plot_curves, train_rl
from prmkit.worlds import arithmetic


@dataclass
class Config:
    policy: str
    """policy to train: a prmkit policy checkpoint or a local Hugging Face causal-LM folder"""
    out: str
    """output directory: metrics.jsonl, settings.json, rl_*.png curves, policy/ (the trained policy)"""
    reward: Literal["outcome", "prm", "prime"] = "prm"
    """outcome: the verifier's 0/1 only; prm: a PRM's step scores plus the outcome; prime: an online implicit PRM (PRIME)"""
    prm: str = "rule"
    """the PRM for --reward prm: 'rule' (the world's exact verifier) or a trained PRM folder"""
    credit: Literal["sum", "min", "softmin", "clip", "delta", "shaping"] = "min"
    """how step rewards become per-step returns (see docs/rl-*.md)"""
    steps: int = 100
    """RL steps (one batch of rollouts and one update each)"""
    seed: int = 0
    """random seed (sampling, problem order)"""
    problems: str | None = None
    """training problems (JSONL); default: --n-problems fresh arithmetic problems"""
    n_problems: int = 2000
    """how many training problems to generate when --problems is not given"""
    problem_seed: int = 0
    """seed of the generated problems (held-out ones use this + 10000), apart from --seed"""
    eval_problems: str | None = None
    """held-out problems for greedy evaluation (JSONL); default: generated with another seed"""
    n_eval: int = 100
    """how many held-out problems to evaluate on (0 = none)"""
    eval_every: int = 10
    """evaluate every this many RL steps"""
    eval_samples: int = 4
    """besides greedy decoding, sample this many solutions per held-out problem (0 = greedy only)"""
    advantage: Literal["grpo", "rloo"] = "grpo"
    """group baseline: GRPO (mean and std) or RLOO (leave-one-out)"""
    prompts_per_step: int = 16
    """problems per RL step"""
    group_size: int = 8
    """samples per problem (the group of the baseline)"""
    lr: float = 1e-4
    """policy learning rate (AdamW)"""
    kl_coef: float = 0.0
    """weight of the k3 KL penalty to the starting policy (0 = none; KL is logged anyway)"""
    epochs: int = 1
    """optimisation passes over each batch (more than 1 uses PPO's ratio clipping)"""
    clip_ratio: float = 0.2
    """PPO ratio clip, used when --epochs > 1"""
    max_new_tokens: int = 96
    """most tokens per sampled solution"""
    temperature: float = 1.0
    """sampling temperature for rollouts"""
    w_outcome: float = 1.0
    """weight of the outcome advantage in the mixture"""
    w_process: float = 1.0
    """weight of the process advantage in the mixture"""
    prm_scale: Literal["prob", "signed"] = "prob"
    """step reward from a PRM probability p: p itself, or 2p - 1 (PURE's signed reward)"""
    gamma: float = 1.0
    """discount between steps (sum, clip, delta, shaping; token discount for prime)"""
    softmin_temperature: float = 0.1
    """temperature of PURE's softmin weights (credit softmin)"""
    clip_eta: float = 1.0
    """threshold eta of Gao et al.'s Clip: a step earns min(r - eta, 0)"""
    phi0: float = 0.0
    """potential of the bare prompt for potential-based shaping"""
    filter: Literal["auto", "none", "band", "prof"] = "auto"
    """which rollouts to learn from: band (PRIME's accuracy band), prof (PROF-style); auto = band for prime, none otherwise"""
    band_low: float = 0.2
    """lowest group accuracy kept by the band filter"""
    band_high: float = 0.8
    """highest group accuracy kept by the band filter"""
    prof_keep: int = 4
    """samples kept per group by the prof filter"""
    prime_beta: float = 0.05
    """beta of PRIME's implicit reward beta * log(pi_phi / pi_ref)"""
    prime_lr: float = 1e-4
    """learning rate of PRIME's implicit PRM"""
    progress: bool = True
    """show a progress bar"""

    def check(self) -> None:
        if self.steps < 1:
            raise ValueError("--steps must be at least 1")
        if self.group_size < 2:
            raise ValueError("--group-size must be at least 2 (the baseline is per group)")
        if self.prompts_per_step < 1 or self.epochs < 1:
            raise ValueError("--prompts-per-step and --epochs must be at least 1")
        if self.filter == "prof" and not 2 <= self.prof_keep <= self.group_size:
            raise ValueError("--prof-keep must lie in 2..--group-size")
        if self.filter == "prof" and self.reward == "outcome":
            raise ValueError("--filter prof needs process rewards (--reward prm or prime)")
        if not 0 <= self.band_low <= self.band_high <= 1:
            raise ValueError("need 0 <= --band-low <= --band-high <= 1")
        if self.temperature <= 0:
            raise ValueError("--temperature must be positive for RL sampling")


def settings_from(cfg: Config) -> RLSettings:
    names = {f.name for f in dataclasses.fields(RLSettings)}
    return RLSettings(**{k: v for k, v in dataclasses.asdict(cfg).items() if k in names})


def _problems(path: str | None, n: int, seed: int) -> list[Problem]:
    if path:
        return read_world_problems(path)
    return [Problem.from_dict(d) for d in arithmetic.generate(n, seed=seed)]


def summarize(rows: list[dict]) -> dict:
    """First and last figures of a run: means over the first and last 5 training steps."""
    tr = [r for r in rows if "accuracy" in r]
    ev = [r for r in rows if "eval_accuracy" in r]
    k = min(5, len(tr))
    out: dict = {}
    for key in (
        "accuracy",
        "reward",
        "steps_per_solution",
        "noop_frac",
        "wasted_frac",
        "kl",
        "entropy",
    ):
        out[f"{key}_first"] = round(sum(r[key] for r in tr[:k]) / k, 4)
        out[f"{key}_last"] = round(sum(r[key] for r in tr[-k:]) / k, 4)
    if ev:
        out["eval_accuracy_first"] = ev[0]["eval_accuracy"]
        out["eval_accuracy_last"] = ev[-1]["eval_accuracy"]
    return out


def run(cfg: Config) -> dict:
    t0 = time.time()
    policy = load_generator(cfg.policy)
    if not hasattr(policy, "model"):
        raise InputError(
            "RL needs a local policy (prmkit checkpoint or Hugging Face folder)", cfg.policy
        )
    scorer = load_scorer(cfg.prm) if cfg.reward == "prm" else None
    problems = _problems(cfg.problems, cfg.n_problems, cfg.problem_seed)
    evals = (
        _problems(cfg.eval_problems, cfg.n_eval, cfg.problem_seed + 10_000)
        if cfg.n_eval > 0
        else []
    )
    s = settings_from(cfg)
    s.eval_problems = cfg.n_eval
    try:
        policy, rows = train_rl(policy, problems, s, scorer, evals, cfg.out, cfg.progress)
    except ValueError as e:  # e.g. a prompt outside the built-in tokenizer's vocabulary
        raise InputError(str(e), cfg.problems or cfg.policy) from None
    from prmkit.rl.rollout import PolicyAdapter

    PolicyAdapter(policy).save(
        f"{cfg.out}/policy",
        {"rl": {"reward": cfg.reward, "credit": cfg.credit, "steps": cfg.steps, "seed": cfg.seed}},
    )
    plots = plot_curves(rows, cfg.out, f"{cfg.reward}/{cfg.credit}")
    return {
        "command": "rl",
        "out": cfg.out,
        "reward": cfg.reward,
        "credit": cfg.credit,
        "steps": cfg.steps,
        "metrics": f"{cfg.out}/metrics.jsonl",
        "plots": len(plots),
        "seconds": round(time.time() - t0, 1),
    } | summarize(rows)


def stage_rl(ctx) -> object:
    """Demo stage: a short reward-hacking comparison on the demo's policy.

    Sum-form against min-form credit with the rule PRM (it scores every no-op step 1),
    and outcome-only, each for a few RL steps from the same policy. Budget: about 90 s
    (20 s with --quick).
    """
    import torch

    from prmkit.commands.demo import StageReport
    from prmkit.report import line_plot

    steps, pps, n = (5, 6, 4) if ctx.quick else (16, 8, 6)
    names = ["sum", "min"] if ctx.quick else ["outcome", "sum", "min"]
    res = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model samples fastest on one thread
    for name in names:
        reward = "outcome" if name == "outcome" else "prm"
        cfg = Config(
            policy=ctx.artifacts["policy"],
            out=ctx.path(f"rl_{name}"),
            reward=reward,
            credit="sum" if name == "outcome" else name,
            steps=steps,
            seed=ctx.seed,
            prompts_per_step=pps,
            group_size=n,
            problems=ctx.artifacts.get("train_problems"),
            n_eval=0,
            max_new_tokens=64,
            w_outcome=1.0 if reward == "outcome" else 0.5,
            w_process=0.0 if reward == "outcome" else 0.5,
            progress=ctx.progress,
            problem_seed=ctx.seed,
        )
        s = run(cfg)
        res[name] = (s, [json.loads(x) for x in open(s["metrics"])])
    torch.set_num_threads(threads)
    for key, fname, ylabel in (
        ("steps_per_solution", "rl_demo_steps.png", "steps per solution"),
        ("accuracy", "rl_demo_accuracy.png", "training accuracy"),
    ):
        line_plot(
            {
                k: ([r["step"] for r in rows], [r[key] for r in rows])
                for k, (_, rows) in res.items()
            },
            ctx.path(fname),
            ylabel,
            "RL step",
            ylabel,
        )
    md = (
        f"GRPO from the demo policy, {steps} RL steps of {pps} problems x {n} samples per setting; PRM settings use the rule PRM "
        "(it scores every correct step 1, no-ops included) with 0.5 outcome + 0.5 process weights. First -> last step:\n\n"
        "| setting | accuracy | steps per solution | no-op steps | KL |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {k} | {s['accuracy_first']:.3f} -> {s['accuracy_last']:.3f} | {s['steps_per_solution_first']:.2f} -> {s['steps_per_solution_last']:.2f} "
            f"| {s['noop_frac_first']:.3f} -> {s['noop_frac_last']:.3f} | {s['kl_last']:.4f} |\n"
            for k, (s, _) in res.items()
        )
        + "\n![steps per solution](rl_demo_steps.png) ![accuracy](rl_demo_accuracy.png)\n\n"
        "A run this short shows the direction at best; the 3-seed experiment (benchmarks/rl_hacking.py) is in docs/rl-experiments.md.\n"
    )
    summ = {
        k: {
            x: s[x]
            for x in (
                "accuracy_first",
                "accuracy_last",
                "steps_per_solution_first",
                "steps_per_solution_last",
                "noop_frac_first",
                "noop_frac_last",
            )
        }
        for k, (s, _) in res.items()
    }
    return StageReport("RL with process rewards", md, summ)
