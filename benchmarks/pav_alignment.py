"""How well PAV's progress points at the real mistakes: progress under a prover against
the exact grade of each step.

Samples --n solutions of --problems problems from --policy, estimates each step's
progress A_h = V_h - V_{h-1} under --prover (`prmkit.rl.pav.ProverValues`, for each
--rollouts K and --best-of value), and compares it with the arithmetic world's exact
grade: the first wrong step of a solution should lose progress, its correct steps
before that should not, and a right solution's last step should gain. Prints one row
per (K, best-of) and a JSON line.

    python benchmarks/pav_alignment.py --policy policy --problems sparse/train.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from prmkit.data import Problem
from prmkit.grade import read_world_problems
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.load import load_local_policy
from prmkit.rl.pav import ProverValues
from prmkit.rl.rollout import PolicyAdapter, make_rollouts
from prmkit.worlds import arithmetic


def kinds(rolls) -> list[list[str]]:
    """Each step as 'ok' (before the first error), 'first' (the first error), 'after'."""
    out = []
    for r in rolls:
        g = arithmetic.grade(r.prompt, r.answer, r.steps)
        fe = g.first_error if g.first_error >= 0 else len(r.steps)
        out.append(
            ["ok" if i < fe else "first" if i == fe else "after" for i in range(len(r.steps))]
        )
    return out


def alignment(prog: torch.Tensor, kind: list[list[str]], rolls) -> dict:
    """Mean progress and share of nonzero / negative progress per kind of step."""
    by: dict[str, list[float]] = {"ok": [], "first": [], "after": [], "right_last": []}
    for b, ks in enumerate(kind):
        for h, k in enumerate(ks):
            by[k].append(float(prog[b, h]))
        if rolls[b].correct:
            by["right_last"].append(float(prog[b, len(ks) - 1]))
    out = {}
    for k, v in by.items():
        n = max(len(v), 1)
        out[k] = {
            "n": len(v),
            "mean": round(sum(v) / n, 4),
            "nonzero": round(sum(x != 0 for x in v) / n, 4),
            "negative": round(sum(x < 0 for x in v) / n, 4),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--policy", required=True)
    ap.add_argument("--prover", default=None, help="default: --policy")
    ap.add_argument("--problems", required=True)
    ap.add_argument("--n-problems", type=int, default=32)
    ap.add_argument("--n", type=int, default=8, help="solutions per problem")
    ap.add_argument("--rollouts", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--best-of", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    policy = load_local_policy(a.policy)
    prover = load_local_policy(a.prover) if a.prover else policy
    probs: list[Problem] = read_world_problems(a.problems)[: a.n_problems]
    params = SamplingParams(n=a.n, max_new_tokens=a.max_new_tokens, temperature=1.0, seed=a.seed)
    gens = continue_steps(policy, [(p.prompt, []) for p in probs], params)
    rolls = make_rollouts(PolicyAdapter(policy), probs, gens, arithmetic)
    kind = kinds(rolls)
    K = max(len(r.steps) for r in rolls)
    mask = torch.tensor([[h < len(r.steps) for h in range(K)] for r in rolls])
    rows = []
    print(
        "| prover rollouts K | best-of | prover V_0 | correct steps: nonzero / mean | first wrong step: negative / mean | after it: mean | right answer's last step: mean |"
    )
    print("|---|---|---|---|---|---|---|")
    for k in a.rollouts:
        for bo in a.best_of:
            pv = ProverValues(prover, k, a.max_new_tokens, 1.0, bo)
            prog, m = pv.progress(rolls, mask, a.seed)
            al = alignment(prog, kind, rolls)
            rows.append({"k": k, "best_of": bo, "v0": round(m["prover_v0_mean"], 4)} | al)
            print(
                f"| {k} | {bo} | {m['prover_v0_mean']:.3f} | {al['ok']['nonzero']:.3f} / {al['ok']['mean']:+.3f} "
                f"| {al['first']['negative']:.3f} / {al['first']['mean']:+.3f} | {al['after']['mean']:+.3f} "
                f"| {al['right_last']['mean']:+.3f} |"
            )
    acc = sum(r.correct for r in rolls) / len(rolls)
    print(
        json.dumps(
            {
                "benchmark": "pav_alignment",
                "solutions": len(rolls),
                "accuracy": round(acc, 4),
                "steps": {k: sum(x.count(k) for x in kind) for k in ("ok", "first", "after")},
                "rows": rows,
                "seconds": round(time.time() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
