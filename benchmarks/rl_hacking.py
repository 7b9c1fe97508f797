"""Reward hacking and sample efficiency of credit methods, on the arithmetic world or,
with --world toolqa, over the turns of the agent world (a step is then a turn).

Runs `prmkit rl` for every setting x seed (outcome-only, and PRM rewards with sum, min,
clip, delta credit by default), then writes, under --out:

- SETTING/seedS/metrics.jsonl (one line per RL step) and the run's own curves;
- hacking_accuracy.png, hacking_eval_accuracy.png, hacking_steps.png, hacking_noop.png:
  seed-mean curves per setting;
- summary.json and results.md: final accuracy, steps per solution and no-op fraction
  (first vs last steps), and sample efficiency: the first RL step at which each
  setting's seed-mean training accuracy (moving average over --window steps) reaches
  outcome-only's final accuracy (its mean over the last --window steps), and the ratio
  to outcome-only's own step count.

Runs that already finished (a complete metrics.jsonl) are reused, so an interrupted
sweep resumes. Each run uses one torch thread; --workers runs go in parallel.

--continue-from SWEEP trains every (setting, seed) of an earlier sweep for --steps more
steps, starting from that run's final policy (fresh optimizer state, --warmup steps of
warm-up, sampling seed + 10 so that it draws new prompts); curves and summary then
cover both parts, the continuation's steps numbered after the earlier run's.

    python benchmarks/rl_hacking.py --policy demo/policy --out runs/rl_hacking --steps 100
    python benchmarks/rl_hacking.py --world toolqa --policy agent --problems q.jsonl \
        --eval-problems held.jsonl --settings sum min gated --max-new-tokens 256 --lr 3e-4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# setting name -> (reward, credit)
SETTINGS = {
    "outcome": ("outcome", "sum"),
    "sum": ("prm", "sum"),
    "min": ("prm", "min"),
    "softmin": ("prm", "softmin"),
    "clip": ("prm", "clip"),
    "delta": ("prm", "delta"),
    "shaping": ("prm", "shaping"),
    "prime": ("prime", "sum"),
    "pav": ("pav", "sum"),  # PAV has no credit method: "sum" is not read
    # over turns (--world toolqa): docs/rl-agents.md
    "gated": ("prm", "gated"),
    "a2tgpo": ("prm", "a2tgpo"),
    "spa": ("spa", "sum"),
    "oprl": ("oprl", "delta"),
}


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _one(job: dict) -> str:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from prmkit.commands import rl

    cfg = rl.Config(**job)
    t0 = time.time()
    rl.run(cfg)
    return f"{cfg.out}: {time.time() - t0:.0f} s"


def _mavg(xs: list[float], w: int) -> list[float]:
    return [
        sum(xs[max(0, i - w + 1) : i + 1]) / len(xs[max(0, i - w + 1) : i + 1])
        for i in range(len(xs))
    ]


def _seed_mean(runs: list[list[dict]], key: str) -> tuple[list[int], list[float]]:
    """Steps and the mean over seeds of `key`, over the steps every run logged it."""
    per = [{r["step"]: r[key] for r in rows if key in r} for rows in runs]
    steps = sorted(set.intersection(*(set(p) for p in per))) if per else []
    return steps, [sum(p[s] for p in per) / len(per) for s in steps]


def first_reach(xs: list[int], ys: list[float], target: float) -> int | None:
    for x, y in zip(xs, ys):
        if y >= target - 1e-9:
            return x
    return None


def per_seed_table(data: dict, runs: dict, w: int) -> str:
    """One row per run: first and last `w` steps' means, held-out greedy first and last."""

    def mean(rows, key, part):
        ys = [r[key] for r in rows if key in r and "accuracy" in r]
        ys = ys[:w] if part == "first" else ys[-w:]
        return sum(ys) / len(ys) if ys else float("nan")

    md = (
        f"\nPer run (first and last {w} steps; held-out greedy at the first and last evaluation):\n\n"
        "| setting | run | train acc | held-out greedy | steps/solution | no-op steps per solution | KL, last |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    for name, rr in data.items():
        for d, rows in zip(runs[name], rr):
            ev = [r["eval_accuracy"] for r in rows if "eval_accuracy" in r]
            noop = [
                mean(rows, "noop_frac", p) * mean(rows, "steps_per_solution", p)
                for p in ("first", "last")
            ]
            md += (
                f"| {name} | {d.name} | {mean(rows, 'accuracy', 'first'):.3f} -> "
                f"{mean(rows, 'accuracy', 'last'):.3f} | {ev[0] if ev else '-'} -> "
                f"{ev[-1] if ev else '-'} | {mean(rows, 'steps_per_solution', 'first'):.2f} -> "
                f"{mean(rows, 'steps_per_solution', 'last'):.2f} | {noop[0]:.2f} -> {noop[1]:.2f} "
                f"| {mean(rows, 'kl', 'last'):.3f} |\n"
            )
    return md


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--policy", help="starting policy (a prmkit checkpoint, e.g. demo/policy)")
    ap.add_argument(
        "--continue-from",
        help="an earlier sweep's --out: continue each of its runs from its final policy",
    )
    ap.add_argument("--out", default="runs/rl_hacking")
    ap.add_argument(
        "--settings",
        nargs="+",
        default=["outcome", "sum", "min", "clip", "delta"],
        choices=list(SETTINGS),
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--prm", default="rule", help="'rule', 'local-rule' or a trained PRM folder")
    ap.add_argument(
        "--problems",
        default=None,
        help="training problems (JSONL); default: generated by prmkit rl",
    )
    ap.add_argument("--eval-problems", default=None, help="held-out problems (JSONL)")
    ap.add_argument("--prompts-per-step", type=int, default=16)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=10, help="RL steps of learning-rate warm-up")
    ap.add_argument(
        "--kl-coef", type=float, default=0.0, help="k3 KL penalty to the starting policy"
    )
    ap.add_argument(
        "--eval-samples",
        type=int,
        default=4,
        help="sampled solutions per held-out problem at each evaluation",
    )
    ap.add_argument(
        "--w-outcome",
        type=float,
        default=0.5,
        help="outcome weight in the PRM mixtures (outcome-only always uses 1)",
    )
    ap.add_argument(
        "--w-process", type=float, default=0.5, help="process weight in the PRM mixtures"
    )
    ap.add_argument("--n-eval", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument(
        "--window", type=int, default=10, help="moving-average window (steps) for sample efficiency"
    )
    ap.add_argument(
        "--filter",
        default="auto",
        choices=["auto", "none", "band", "prof"],
        help="which rollouts to learn from (auto: PRIME's band for prime, none otherwise)",
    )
    ap.add_argument(
        "--prover", default=None, help="pav: the prover policy (default: the starting policy)"
    )
    ap.add_argument("--pav-alpha", type=float, default=1.0, help="pav: weight of the progress")
    ap.add_argument(
        "--pav-rollouts", type=int, default=4, help="pav: prover completions per prefix"
    )
    ap.add_argument("--pav-best-of", type=int, default=1, help="pav: the prover is Best-of-K")
    ap.add_argument("--world", default="arithmetic", help="arithmetic, or toolqa (RL over turns)")
    ap.add_argument(
        "--gate-threshold", type=float, default=1.0, help="gated: outcome that opens the gate"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: summarise and plot the runs already under --out (seeds with no "
        "finished run are left out, and each setting's seed count is in results.md)",
    )
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = ap.parse_args()
    if not (a.policy or a.continue_from):
        ap.error("give --policy, or --continue-from an earlier sweep")
    prev = Path(a.continue_from) if a.continue_from else None

    out = Path(a.out)
    jobs, runs = [], {}
    for name in a.settings:
        reward, cr = SETTINGS[name]
        for seed in a.seeds:
            d = out / name / f"seed{seed}"
            runs.setdefault(name, []).append(d)
            rows = _rows(d / "metrics.jsonl")
            if any(r.get("step") == a.steps and "accuracy" in r for r in rows):
                continue
            mix = reward != "outcome"
            start = prev / name / f"seed{seed}" / "policy" if prev else a.policy
            if prev and not (Path(start) / "config.json").exists():
                ap.error(f"{start}: no final policy to continue from")
            jobs.append(
                dict(
                    policy=str(start),
                    out=str(d),
                    reward=reward,
                    credit=cr,
                    prm=a.prm,
                    steps=a.steps,
                    seed=seed + 10 if prev else seed,
                    warmup=a.warmup,
                    prompts_per_step=a.prompts_per_step,
                    group_size=a.group_size,
                    lr=a.lr,
                    kl_coef=a.kl_coef,
                    w_outcome=a.w_outcome if mix else 1.0,
                    w_process=a.w_process if mix else 0.0,
                    filter=a.filter,
                    prover=a.prover,
                    pav_alpha=a.pav_alpha,
                    pav_rollouts=a.pav_rollouts,
                    pav_best_of=a.pav_best_of,
                    problems=a.problems,
                    eval_problems=a.eval_problems,
                    n_eval=a.n_eval,
                    eval_samples=a.eval_samples,
                    eval_every=a.eval_every,
                    max_new_tokens=a.max_new_tokens,
                    world=a.world,
                    gate_threshold=a.gate_threshold,
                    progress=False,
                )
            )
    t0 = time.time()
    if a.report_only:
        unfinished = {str(Path(j["out"])) for j in jobs}
        runs = {n: [d for d in ds if str(d) not in unfinished] for n, ds in runs.items()}
        runs = {n: ds for n, ds in runs.items() if ds}
        jobs = []
    if jobs:
        print(f"{len(jobs)} runs to do, {a.workers} at a time", flush=True)
        with ProcessPoolExecutor(a.workers) as ex:
            for msg in ex.map(_one, jobs):
                print(msg, flush=True)

    from prmkit.report import line_plot

    # Runs longer than --steps (an earlier, longer sweep) are cut to --steps.
    data = {
        name: [[r for r in _rows(d / "metrics.jsonl") if r["step"] <= a.steps] for d in ds]
        for name, ds in runs.items()
    }
    if prev:  # the earlier run, then the continuation (its step 0 is the earlier run's end)
        for name, ds in runs.items():
            for i, d in enumerate(ds):
                before = _rows(prev / name / d.name / "metrics.jsonl")
                k = max(r["step"] for r in before)
                after = [r | {"step": r["step"] + k} for r in data[name][i] if r["step"] > 0]
                data[name][i] = before + after
    w = a.window
    curves: dict[str, dict] = {}
    for name, rr in data.items():
        c = {}
        for key in (
            "accuracy",
            "steps_per_solution",
            "noop_frac",
            "wasted_frac",
            "eval_accuracy",
            "eval_sample_accuracy",
            "kl",
            "entropy",
            "all_wrong_groups",
            "seconds",
        ):
            c[key] = _seed_mean(rr, key)
        c["accuracy_ma"] = (c["accuracy"][0], _mavg(c["accuracy"][1], w))
        curves[name] = c
    for key, fname, ylabel in (
        ("accuracy_ma", "hacking_accuracy.png", f"training accuracy ({w}-step moving average)"),
        ("eval_accuracy", "hacking_eval_accuracy.png", "held-out greedy accuracy"),
        ("eval_sample_accuracy", "hacking_eval_sample_accuracy.png", "held-out sampled accuracy"),
        ("steps_per_solution", "hacking_steps.png", "steps per solution"),
        ("noop_frac", "hacking_noop.png", "fraction of no-op steps"),
    ):
        series = {n: c[key] for n, c in curves.items() if c[key][0]}
        if key in ("steps_per_solution", "noop_frac"):
            series = {n: (xs, _mavg(ys, w)) for n, (xs, ys) in series.items()}
        line_plot(series, str(out / fname), f"{ylabel}, mean over seeds", "RL step", ylabel)

    def last(name, key, k=w):
        ys = curves[name][key][1]
        return round(sum(ys[-k:]) / max(len(ys[-k:]), 1), 4) if ys else None

    def first(name, key, k=w):
        ys = curves[name][key][1]
        return round(sum(ys[:k]) / max(len(ys[:k]), 1), 4) if ys else None

    summary: dict = {
        "policy": a.policy,
        "world": a.world,
        "continue_from": a.continue_from,
        "prm": a.prm,
        "seeds": a.seeds,
        "steps": max(r["step"] for rr in data.values() for rows in rr for r in rows),
        "window": w,
        "settings": {},
    }
    target = last("outcome", "accuracy") if "outcome" in curves else None
    base_steps = (
        first_reach(*curves["outcome"]["accuracy_ma"], target) if target is not None else None
    )
    for name, c in curves.items():
        ev = c["eval_accuracy"][1]
        evs = c["eval_sample_accuracy"][1]
        s = {
            "seeds": len(data[name]),
            "accuracy_first": first(name, "accuracy"),
            "accuracy_last": last(name, "accuracy"),
            "eval_accuracy_first": round(ev[0], 4) if ev else None,
            "eval_accuracy_last": round(ev[-1], 4) if ev else None,
            "eval_sample_accuracy_first": round(evs[0], 4) if evs else None,
            "eval_sample_accuracy_last": round(evs[-1], 4) if evs else None,
            "steps_per_solution_first": first(name, "steps_per_solution"),
            "steps_per_solution_last": last(name, "steps_per_solution"),
            "noop_frac_first": first(name, "noop_frac"),
            "noop_frac_last": last(name, "noop_frac"),
            "wasted_frac_last": last(name, "wasted_frac"),
            "kl_last": last(name, "kl"),
            "all_wrong_groups_first": first(name, "all_wrong_groups"),
            "all_wrong_groups_last": last(name, "all_wrong_groups"),
            "seconds_per_step": last(name, "seconds", 10**9),
        }
        if target is not None:
            reach = first_reach(*c["accuracy_ma"], target)
            s["steps_to_outcome_final"] = reach
            s["ratio_to_outcome"] = (
                round(reach / base_steps, 3) if reach is not None and base_steps else None
            )
            per_seed = []
            for rows in data[name]:
                xs, ys = _seed_mean([rows], "accuracy")
                per_seed.append(first_reach(xs, _mavg(ys, w), target))
            s["steps_to_outcome_final_per_seed"] = per_seed
        summary["settings"][name] = s
    summary["outcome_final_accuracy"] = target
    summary["outcome_steps_to_own_final"] = base_steps
    summary["seconds"] = round(time.time() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    head = "| setting | train acc first -> last | held-out sampled acc first -> last | held-out greedy acc first -> last | steps/solution first -> last | no-op steps first -> last | steps to outcome's final acc (ratio) | all-wrong groups first -> last | s/step |\n|---|---|---|---|---|---|---|---|---|\n"
    lines = []
    for name, s in summary["settings"].items():
        reach = s.get("steps_to_outcome_final")
        ratio = s.get("ratio_to_outcome")
        lines.append(
            f"| {name} ({s['seeds']} seed{'s' if s['seeds'] > 1 else ''}) | {s['accuracy_first']:.3f} -> {s['accuracy_last']:.3f} "
            f"| {s['eval_sample_accuracy_first']} -> {s['eval_sample_accuracy_last']} | {s['eval_accuracy_first']} -> {s['eval_accuracy_last']} "
            f"| {s['steps_per_solution_first']:.2f} -> {s['steps_per_solution_last']:.2f} | {s['noop_frac_first']:.3f} -> {s['noop_frac_last']:.3f} "
            f"| {reach if reach is not None else ('not reached' if target is not None else '-')}{f' ({ratio})' if ratio is not None else ''} "
            f"| {s['all_wrong_groups_first']} -> {s['all_wrong_groups_last']} | {s['seconds_per_step']} |"
        )
    md = head + "\n".join(lines) + "\n"
    if target is not None:
        md += f"\nOutcome-only's final training accuracy (mean of the last {w} steps, {len(a.seeds)} seeds): {target}; it first reaches it at step {base_steps}.\n"
    md += per_seed_table(data, runs, w)
    (out / "results.md").write_text(md)
    print(md)
    print(json.dumps({"benchmark": "rl_hacking", "out": str(out), "seconds": summary["seconds"]}))


if __name__ == "__main__":
    main()
