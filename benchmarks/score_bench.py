"""Benchmark: one-pass step scoring vs per-prefix scoring vs a bare forward pass.

A built-in step PRM (default size: 4 layers, width 128; speed does not depend on
training, so its weights are random unless --prm is given) scores arithmetic-world
solutions of exactly 5 and exactly 10 steps. Per setting:

- one-pass: `ModelScorer.score`, one forward per solution, length-bucketed batches,
  tokenization and collation included;
- per-prefix: `score_per_prefix`, one forward per prefix (the naive way), same batching;
- bare forward: the backbone's forward (`GPT.hidden`) over the very same padded
  batches, tensors built beforehand: what the model alone costs.

Goals: one-pass >= 3x per-prefix at 5 steps and >= 6x at 10 steps (steps/s), and
one-pass time <= 1.3x the bare forward. Prints a table, then one JSON line.

    python benchmarks/score_bench.py                # about a minute on 2 cores
    python benchmarks/score_bench.py --prm runs/prm --n 512 --repeats 5
"""

from __future__ import annotations

import argparse
import json

import torch
from timing import timed

from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.models import BuiltinStepModel
from prmkit.prm.scoring import ModelScorer, load_step_model, score_per_prefix
from prmkit.prm.tagging import collate, length_buckets
from prmkit.worlds import arithmetic
from prmkit.worlds.arithmetic import Difficulty


def solutions(n: int, n_steps: int, seed: int) -> list[tuple[str, list[str]]]:
    """n correct solutions with exactly n_steps steps (n_steps - 1 operations + answer)."""
    d = Difficulty(min_ops=n_steps - 1, max_ops=n_steps - 1)
    return [(p["prompt"], arithmetic.solve(p["prompt"])) for p in arithmetic.generate(n, seed, d)]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prm", help="a built-in PRM checkpoint (default: a fresh default-size model)")
    ap.add_argument("--n", type=int, default=256, help="solutions per setting")
    ap.add_argument("--steps", type=int, nargs="+", default=[5, 10], help="steps per solution")
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed runs per measurement (the fastest counts)"
    )
    ap.add_argument("--max-tokens", type=int, default=16384, help="padded tokens per forward pass")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = (
        load_step_model(a.prm)
        if a.prm
        else BuiltinStepModel.new(GPTConfig(CharTokenizer().vocab_size, block_size=256))
    )
    model.eval()
    scorer = ModelScorer(model, max_tokens=a.max_tokens)
    rows = []
    for k in a.steps:
        items = solutions(a.n, k, seed=k)
        n_steps = sum(len(s) for _, s in items)
        enc = [model.encode(p, s) for p, s in items]
        batches = [
            collate([enc[i] for i in b], model.pad_id)
            for b in length_buckets([len(e.input_ids) for e in enc], a.max_tokens, scorer.max_batch)
        ]

        @torch.no_grad()
        def bare(batches=batches):
            for b in batches:
                model.gpt.hidden(b.ids)

        t_one, t_pre, t_bare = timed(
            [
                lambda items=items: scorer.score(items),
                lambda items=items: score_per_prefix(model, items, a.max_tokens, scorer.max_batch),
                bare,
            ],
            a.repeats,
        )
        one, pre = scorer.score(items[:32]), score_per_prefix(model, items[:32])
        err = max(abs(x - y) for u, v in zip(one, pre) for x, y in zip(u, v))
        rows.append(
            {
                "steps_per_solution": k,
                "solutions": len(items),
                "tokens": sum(len(e.input_ids) for e in enc),
                "one_pass_steps_per_s": round(n_steps / t_one, 1),
                "per_prefix_steps_per_s": round(n_steps / t_pre, 1),
                "speedup": round(t_pre / t_one, 2),
                "one_pass_s": round(t_one, 4),
                "bare_forward_s": round(t_bare, 4),
                "overhead_vs_bare": round(t_one / t_bare, 3),
                "max_abs_diff_vs_per_prefix": float(f"{err:.2e}"),
            }
        )
    print(
        f"{'steps':>5} {'one-pass steps/s':>17} {'per-prefix steps/s':>19} {'speedup':>8} {'one-pass s':>11} {'bare s':>8} {'vs bare':>8}"
    )
    for r in rows:
        print(
            f"{r['steps_per_solution']:>5} {r['one_pass_steps_per_s']:>17} {r['per_prefix_steps_per_s']:>19} {r['speedup']:>7}x "
            f"{r['one_pass_s']:>11} {r['bare_forward_s']:>8} {r['overhead_vs_bare']:>7}x"
        )
    goals = {5: 3.0, 10: 6.0}
    summary = {
        "benchmark": "score_bench",
        "threads": a.threads,
        "rows": rows,
        "goal_speedup_met": all(
            r["speedup"] >= goals.get(r["steps_per_solution"], 1.0) for r in rows
        ),
        "goal_overhead_met": all(r["overhead_vs_bare"] <= 1.3 for r in rows),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
