"""What an RL run reports besides its training metrics: held-out evaluation and PNG curves.

Split from the trainer so that the loop stays one screen of logic; both read only
metrics rows and the world's grader.
"""

from __future__ import annotations

import math
from pathlib import Path

from prmkit.models.generator import SamplingParams, continue_steps


def evaluate(
    policy,
    problems: list,
    world,
    n_problems: int,
    max_new_tokens: int,
    seed: int = 0,
    n_samples: int = 4,
    temperature: float = 1.0,
) -> dict:
    """Held-out figures: greedy accuracy, steps per solution and no-op fraction, and the
    accuracy of `n_samples` samples per problem at the rollout temperature (fixed seed)."""
    ps = problems[:n_problems]
    if not ps:
        return {}
    items = [(p.prompt, []) for p in ps]
    greedy = continue_steps(
        policy,
        items,
        SamplingParams(n=1, max_new_tokens=max_new_tokens, temperature=0.0, seed=seed),
    )
    ok, steps, noop = 0, 0, 0
    for p, g in zip(ps, greedy):
        grade = world.grade(p.prompt, p.answer, g[0].steps or [""])
        ok += grade.correct
        steps += len(g[0].steps)
        noop += grade.n_noop
    out = {
        "eval_accuracy": round(ok / len(ps), 4),
        "eval_steps": round(steps / len(ps), 3),
        "eval_noop_frac": round(noop / max(steps, 1), 4),
    }
    if n_samples > 0:
        sp = SamplingParams(
            n=n_samples, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed + 7
        )
        sampled = continue_steps(policy, items, sp)
        good = sum(
            world.grade(p.prompt, p.answer, g.steps or [""]).correct
            for p, gs in zip(ps, sampled)
            for g in gs
        )
        out["eval_sample_accuracy"] = round(good / (len(ps) * n_samples), 4)
    return out


def plot_curves(rows: list[dict], out_dir: str | Path, title: str = "") -> list[str]:
    """PNG curves of a run's metrics.jsonl rows: accuracy, reward, steps, waste, KL,
    entropy, all-equal groups and, for agents, turns and no-op turns per trajectory."""
    from prmkit.report import line_plot

    out = Path(out_dir)
    ev = [r for r in rows if "eval_accuracy" in r]
    rows = [r for r in rows if "accuracy" in r]
    xs = [r["step"] for r in rows]
    paths = []

    def series(*keys):
        return {k: (xs, [r.get(k, math.nan) for r in rows]) for k in keys}

    acc = series("accuracy")
    if ev:
        acc["eval_accuracy"] = ([r["step"] for r in ev], [r["eval_accuracy"] for r in ev])
    plots = [
        ("rl_accuracy.png", acc, "accuracy"),
        ("rl_reward.png", series("reward"), "mean reward"),
        ("rl_steps.png", series("steps_per_solution"), "steps per solution"),
        ("rl_waste.png", series("noop_frac", "repeat_frac"), "fraction of steps"),
        ("rl_kl_entropy.png", series("kl", "entropy"), "nats per token"),
        ("rl_groups.png", series("all_equal_groups"), "share of all-equal groups"),
    ]
    if rows and "turns_per_trajectory" in rows[0]:  # multi-turn agents
        plots.append(
            ("rl_turns.png", series("turns_per_trajectory", "noop_turns"), "turns per trajectory")
        )
    for name, ser, ylabel in plots:
        paths.append(
            line_plot(ser, str(out / name), f"{title} {ylabel}".strip(), "RL step", ylabel)
        )
    return paths
