"""The demo's RL stage: a short reward-hacking comparison on the demo's policy."""

from __future__ import annotations

import json

import torch

from prmkit.commands import rl as rl_cmd
from prmkit.demo.context import Context, StageReport
from prmkit.report import line_plot


def stage_rl(ctx: Context) -> StageReport:
    """Demo stage: a short reward-hacking comparison on the demo's policy.

    Sum-form against min-form credit with the rule PRM (it scores every no-op step 1),
    and outcome-only, each for a few RL steps from the same policy. Budget: about 90 s
    (20 s with --quick).
    """
    steps, pps, n = (5, 6, 4) if ctx.quick else (16, 8, 6)
    names = ["sum", "min"] if ctx.quick else ["outcome", "sum", "min"]
    res = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model samples fastest on one thread
    for name in names:
        reward = "outcome" if name == "outcome" else "prm"
        cfg = rl_cmd.Config(
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
        s = rl_cmd.run(cfg)
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
        "A run this short shows the direction at best. The 3-seed experiments (benchmarks/rl_hacking.py, docs/rl-experiments.md) "
        "reproduce the hack under sum-form and not min-form in 2 of 3 seeds at one setting (no-op-rich policy, PRM rewards only); "
        "min-form needs 0.91-1.03x outcome-only's steps to reach its final accuracy, so the papers' <= 0.7x is not reproduced.\n"
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
