"""One-pass against per-prefix scoring of an encoder PRM on ProcessBench solutions.

One pass: every solution once (in windows of whole steps when long), a score read at
each step's tag under the step-causal mask. Per prefix: every prefix scored on its own
(`score_prefixes`), reading its last step. Both give the same scores (checked here).

    python benchmarks/encoder_score_bench.py --prm minilm --data processbench/gsm8k.json --limit 100
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from prmkit.data.converters import read_samples
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel, score_prefixes
from prmkit.prm.scoring import load_prm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--prm", default="minilm", help="an encoder PRM folder, or minilm (untrained head)"
    )
    ap.add_argument("--data", required=True, help="a ProcessBench file")
    ap.add_argument("--limit", type=int, default=100, help="first N solutions")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.prm == "minilm":
        model = EncoderStepModel.from_pretrained("minilm").eval()
        torch.manual_seed(0)
        torch.nn.init.normal_(model.head.weight, std=0.05)
    else:
        model = load_prm(a.prm).model
    items = [(s.prompt, s.steps) for s in read_samples(a.data)[: a.limit]]
    EncoderScorer(model).score(items[:2])  # warm-up: thread pools, allocator
    tokens_one = sum(len(t.input_ids) for p, st in items for t in model.windows(p, st))
    tokens_ref = sum(
        len(t.input_ids)
        for p, st in items
        for k in range(len(st))
        for t in model.windows(p, st[: k + 1])
    )
    t0 = time.time()
    one = EncoderScorer(model).score(items)
    t_one = time.time() - t0
    t0 = time.time()
    ref = score_prefixes(model, items)
    t_ref = time.time() - t0
    diff = max(abs(x - y) for a_, b_ in zip(one, ref) for x, y in zip(a_, b_))
    n_steps = sum(len(st) for _, st in items)
    print(
        json.dumps(
            {
                "benchmark": "encoder_score",
                "solutions": len(items),
                "steps": n_steps,
                "one_pass_s": round(t_one, 2),
                "per_prefix_s": round(t_ref, 2),
                "speedup": round(t_ref / t_one, 2),
                "tokens_one_pass": tokens_one,
                "tokens_per_prefix": tokens_ref,
                "max_abs_diff": float(f"{diff:.2e}"),
                "threads": a.threads,
            }
        )
    )


if __name__ == "__main__":
    main()
