"""Benchmark: Monte Carlo (mc) vs OmegaPRM binary search (omega) step labels.

On the arithmetic world with the default policy, over >= 500 sampled solutions:
first-error accuracy and step-label F1 against the exact verifier, and rollouts
spent, for mc and omega at k in {4, 8, 16}, over several rollout seeds.
Goal: omega reaches mc's first-error accuracy at the same k with at most 50% of its
rollouts. Prints a table, then one JSON line.

    python benchmarks/label_bench.py                       # trains the default policy first
    python benchmarks/label_bench.py --policy runs/policy --samples runs/samples.jsonl

Every labeling run is resumable: rerun the same command after an interruption.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from prmkit.commands import policy as policy_cmd
from prmkit.commands import sample as sample_cmd
from prmkit.commands import world as world_cmd
from prmkit.data import Sample, read_jsonl
from prmkit.label.quality import aggregate, goal, label_and_score, markdown_table


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--policy",
        help="policy checkpoint (default: train one with `prmkit policy train` defaults)",
    )
    ap.add_argument(
        "--samples", help="graded samples JSONL (default: sample --problems x --per-problem)"
    )
    ap.add_argument("--out-dir", default="runs/label_bench", help="where everything is written")
    ap.add_argument(
        "--problems",
        type=int,
        default=125,
        help="held-out problems to sample (with --per-problem 4: 500 solutions)",
    )
    ap.add_argument("--per-problem", type=int, default=4, help="solutions sampled per problem")
    ap.add_argument("--ks", type=int, nargs="+", default=[4, 8, 16], help="rollouts per prefix")
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="rollout seeds (labels vary with them)",
    )
    ap.add_argument("--methods", nargs="+", default=["mc", "omega"])
    ap.add_argument("--chunk", type=int, default=256, help="items per generate call")
    a = ap.parse_args(argv)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    policy = a.policy
    if policy is None:
        policy = str(out / "policy")
        if not (out / "policy" / "config.json").exists():
            world_cmd.run(world_cmd.Config(out=str(out / "train.jsonl"), n=2000, seed=0))
            print("training the default policy ...", file=sys.stderr)
            policy_cmd.run(
                policy_cmd.Config(problems=str(out / "train.jsonl"), out=policy, progress=False)
            )
    samples = a.samples
    if samples is None:
        samples = str(out / "samples.jsonl")
        if not Path(samples).exists():
            world_cmd.run(world_cmd.Config(out=str(out / "test.jsonl"), n=a.problems, seed=10_000))
            sample_cmd.run(
                sample_cmd.Config(
                    policy=policy,
                    problems=str(out / "test.jsonl"),
                    out=samples,
                    n=a.per_problem,
                    progress=False,
                )
            )
    data = read_jsonl(samples, Sample.from_dict)
    wrong = sum(s.first_error is not None and s.first_error >= 0 for s in data)
    print(f"{len(data)} solutions, {wrong} wrong ({wrong / len(data):.1%}), policy {policy}")

    runs = []
    for seed in a.seeds:
        for k in a.ks:
            for method in a.methods:
                path = out / f"{method}_k{k}_seed{seed}.jsonl"
                row = label_and_score(samples, str(path), method, policy, k, seed, a.chunk)
                runs.append(row)
                print(
                    f"  {method:5s} k={k:<2d} seed={seed}  first-error acc {row['first_error_acc']:.3f}  "
                    f"F1 {row['step_f1']:.3f}  rollouts {row['rollouts']:6d}  {row['seconds']:6.1f} s",
                    flush=True,
                )
    rows = aggregate(runs)
    print()
    print(markdown_table(rows))
    g = goal(rows)
    for k, v in g.items():
        verdict = "MET" if v["met"] else "NOT met"
        print(
            f"goal at k={k}: omega acc {v['acc_omega']:.3f} vs mc {v['acc_mc']:.3f}, rollouts {v['rollout_ratio']:.1%} of mc -> {verdict}"
        )
    result = {
        "benchmark": "label",
        "solutions": len(data),
        "wrong": wrong,
        "policy": policy,
        "samples": samples,
        "seeds": a.seeds,
        "rows": rows,
        "goal": g,
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
