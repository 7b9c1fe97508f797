"""How many padded tokens per forward pass score fastest: `ModelScorer(max_tokens=...)`.

Scores the same arithmetic solutions (half correct, half corrupted) with a randomly
initialised built-in PRM at several pass sizes and prints the CPU milliseconds per
solution for each (best of --repeats). `ModelScorer`'s CPU default (2048) comes from
this sweep; accelerators want the largest passes that fit.

    python benchmarks/score_pass_size.py                          # d_model 32, 2 layers
    python benchmarks/score_pass_size.py --d-model 128 --n-layer 4  # the policy's size
    python benchmarks/score_pass_size.py --model runs/prm_mc --max-tokens 2048 --request 1  # a trained PRM, one solution a call
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from prmkit.models.gpt import GPTConfig  # noqa: E402
from prmkit.models.tokenizer import CharTokenizer  # noqa: E402
from prmkit.prm.models import BuiltinStepModel  # noqa: E402
from prmkit.prm.scoring import ModelScorer, load_prm  # noqa: E402
from prmkit.worlds import arithmetic  # noqa: E402


def solutions(n: int, seed: int) -> list[tuple[str, list[str]]]:
    """(prompt, steps) of n arithmetic problems, each solved right or corrupted (50/50)."""
    rng = random.Random(seed)
    out = []
    for p in arithmetic.generate(n, seed=seed):
        good = rng.random() < 0.5
        steps = arithmetic.solve(p["prompt"]) if good else arithmetic.corrupt(p["prompt"], rng)[0]
        out.append((p["prompt"], steps))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a trained PRM folder instead of the random-init one")
    ap.add_argument("--d-model", type=int, default=32)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n", type=int, default=512, help="solutions scored per measurement")
    ap.add_argument("--request", type=int, default=64, help="solutions per score() call")
    ap.add_argument("--max-tokens", type=int, nargs="+", default=[16384, 4096, 2048, 1024, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    a = ap.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=CharTokenizer().vocab_size, n_layer=a.n_layer, n_head=a.n_head, d_model=a.d_model
    )
    scorer = load_prm(a.model) if a.model else ModelScorer(BuiltinStepModel.new(cfg))
    items = solutions(a.n, 0)
    calls = [items[i : i + a.request] for i in range(0, len(items), a.request)]
    result = {}
    for mt in a.max_tokens:
        scorer.max_tokens = mt  # read on every score() call; the model is loaded once
        scorer.score(calls[0])  # warm-up
        best = float("inf")
        for _ in range(a.repeats):
            t0 = time.process_time()
            for c in calls:
                scorer.score(c)
            best = min(best, (time.process_time() - t0) / len(items) * 1000)
        result[str(mt)] = round(best, 4)
        print(f"max_tokens {mt:>6}: {best:.3f} CPU ms per solution", flush=True)
    base = result[str(a.max_tokens[0])]
    summary = {
        "benchmark": "score_pass_size",
        "model": a.model or f"random-init d_model {a.d_model}, {a.n_layer} layers",
        "request": a.request,
        "threads": a.threads,
        "cpu_ms_per_solution": result,
        "relative_to_first": {k: round(v / base, 3) for k, v in result.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
