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
    k = max(1, min(5, steps // 2))  # two windows that do not overlap
    win = f"mean of steps 1-{k}" if k > 1 else "step 1"
    win_last = f"mean of steps {steps - k + 1}-{steps}" if k > 1 else f"step {steps}"
    table = {name: windows(rows, k) for name, (_, rows) in res.items()}
    md = (
        f"GRPO from the demo policy, {steps} RL steps of {pps} problems x {n} samples per setting; PRM settings use the rule PRM "
        "(it scores every correct step 1, no-ops included) with 0.5 outcome + 0.5 process weights. "
        f"Each cell is the {win} -> the {win_last} (each step is one batch of {pps * n} samples); KL is the last step's.\n\n"
        "| setting | training accuracy | steps per solution | no-op step fraction | KL to the start |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {name} | {w['accuracy'][0]:.3f} -> {w['accuracy'][1]:.3f} "
            f"| {w['steps_per_solution'][0]:.2f} -> {w['steps_per_solution'][1]:.2f} "
            f"| {w['noop_frac'][0]:.3f} -> {w['noop_frac'][1]:.3f} | {w['kl']:.4f} |\n"
            for name, w in table.items()
        )
        + "\n"
        + overlaps(res)
        + falls(table, res, pps * n)
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


KEYS = ("accuracy", "steps_per_solution", "noop_frac")


def windows(rows: list[dict], k: int) -> dict:
    """Per metric, (mean of the first k steps, mean of the last k steps); and the last KL."""
    tr = [r for r in rows if "accuracy" in r]
    out: dict = {
        key: (mean([r[key] for r in tr[:k]]), mean([r[key] for r in tr[-k:]])) for key in KEYS
    }
    out["kl"] = tr[-1]["kl"]
    return out


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def overlaps(res: dict) -> str:
    """A line for every pair of settings whose plotted curves lie on top of each other."""
    out = []
    names = list(res)
    for key, what in (("steps_per_solution", "steps per solution"), ("accuracy", "accuracy")):
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if [r[key] for r in res[a][1]] == [r[key] for r in res[b][1]]:
                    out.append(
                        f"- {a} and {b} have the same {what} at every step: their lines in the "
                        "plot lie on top of each other.\n"
                    )
    return "".join(out)


def falls(table: dict, res: dict, batch: int) -> str:
    """For each setting whose training accuracy falls, what moved with it, and how large
    the fall is against the step-to-step spread of the accuracy (its standard deviation)."""
    out = []
    for name, w in table.items():
        a0, a1 = w["accuracy"]
        if a1 >= a0:
            continue
        acc = [r["accuracy"] for r in res[name][1] if "accuracy" in r]
        sd = (sum((x - mean(acc)) ** 2 for x in acc) / max(1, len(acc) - 1)) ** 0.5
        s0, s1 = w["steps_per_solution"]
        n0, n1 = w["noop_frac"]
        line = (
            f"- {name}: training accuracy falls by {a0 - a1:.3f}; the step-to-step standard "
            f"deviation of the accuracy is {sd:.3f} (batches of {batch}). Steps per solution "
            f"{s0:.2f} -> {s1:.2f}, no-op fraction {n0:.3f} -> {n1:.3f}, KL {w['kl']:.4f}."
        )
        if n1 > n0 + 0.01 and s1 > s0:
            line += (
                " The policy writes more no-op steps, which the rule PRM scores 1: "
                "the process reward pays for length (the sum-form hack)."
            )
        elif a0 - a1 <= 2 * sd:
            line += (
                " Length and no-ops do not explain it and the fall is within two standard "
                "deviations of batch noise: no cause is measured."
            )
        else:
            line += " Length and no-ops do not explain it: no cause is measured here."
        out.append(line + "\n")
    return "".join(out)
