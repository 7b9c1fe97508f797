"""Benchmark: a published PRM scored in one forward pass per solution vs per-step prefixes.

For each published format (Math-Shepherd, RLHFlow, Qwen2.5-Math-PRM, Skywork, TRL),
a tiny random model laid out as that format's published folder (built as the tests
build it: `tests/published_tiny.py`, here 4 layers of width 128) scores the same
solutions two ways, both through `prmkit.prm.published.PublishedScorer`:

- one-pass: `score`, one sequence per solution read at every step, batched by length;
- per-prefix: `score_per_prefix`, one sequence per prefix (steps 1..k) read at its last
  step, as the model cards score step k; same batching.

Both include tokenization. Goal: one-pass >= 3x per-prefix (steps/s) for every
format. The two must agree (max |difference| is printed). Prints a table, then one
JSON line.

    python benchmarks/published_bench.py                  # a few minutes on a busy 2-core CPU
    python benchmarks/published_bench.py --prm DIR --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import published_tiny as tiny  # noqa: E402
from timing import timed  # noqa: E402

from prmkit.prm.published import load_published  # noqa: E402

BUILDERS = {
    "math-shepherd": tiny.math_shepherd,
    "rlhflow": tiny.rlhflow,
    "qwen-prm": tiny.qwen_prm,
    "skywork": tiny.skywork,
    "trl": tiny.trl,
}


def solutions(n: int, min_steps: int, max_steps: int, seed: int) -> list[tuple[str, list[str]]]:
    """n problems, each with min_steps..max_steps one-sentence steps from the corpus."""
    rng = random.Random(seed)
    sentences = [s.strip() + "." for text in tiny.CORPUS for s in text.split(".") if s.strip()]
    return [
        (
            rng.choice(tiny.CORPUS),
            [rng.choice(sentences) for _ in range(rng.randint(min_steps, max_steps))],
        )
        for _ in range(n)
    ]


def bench(prm, items, repeats: int) -> dict:
    one, ref = prm.score(items), prm.score_per_prefix(items)
    diff = max(abs(a - b) for ra, rb in zip(one, ref) for a, b in zip(ra, rb))
    t_one, t_ref = timed([lambda: prm.score(items), lambda: prm.score_per_prefix(items)], repeats)
    n_steps = sum(len(s) for _, s in items)
    return {
        "format": prm.kind,
        "steps": n_steps,
        "one_pass_steps_per_s": round(n_steps / t_one, 1),
        "per_prefix_steps_per_s": round(n_steps / t_ref, 1),
        "ratio": round(t_ref / t_one, 2),
        "max_abs_diff": float(f"{diff:.2e}"),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    ap.add_argument("--prm", help="a real published PRM folder instead of the tiny ones")
    ap.add_argument("--prm-format", help="its format (default: detected)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--n", type=int, default=24, help="solutions")
    ap.add_argument("--min-steps", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tiny.SIZE.update(hidden_size=128, intermediate_size=256, num_hidden_layers=4)
    items = solutions(args.n, args.min_steps, args.max_steps, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(args.prm, args.prm_format)] if args.prm else []
        for name in [] if args.prm else args.formats:
            runs.append((str(BUILDERS[name](Path(tmp) / name, seed=args.seed)[0]), name))
        for folder, fmt in runs:
            prm = load_published(folder, fmt, args.device, args.dtype, args.batch_size)
            rows.append(bench(prm, items, args.repeats))
            r = rows[-1]
            print(
                f"{r['format']:<14} one-pass {r['one_pass_steps_per_s']:>8} steps/s  "
                f"per-prefix {r['per_prefix_steps_per_s']:>8} steps/s  "
                f"ratio {r['ratio']:>5}x  max|diff| {r['max_abs_diff']}",
                file=sys.stderr,
            )
    summary = {
        "benchmark": "published_bench",
        "solutions": args.n,
        "steps_per_solution": [args.min_steps, args.max_steps],
        "device": args.device,
        "dtype": args.dtype,
        "threads": args.threads,
        "min_ratio": min(r["ratio"] for r in rows),
        "goal_ratio": 3.0,
        "rows": rows,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
