"""Tokens per second of batched KV-cache sampling against naive full re-forward sampling.

Built-in GPT at its default size, batch 64, 64 new tokens per row, prompts of mixed
length (left padding included). No stop tokens, so every row generates all 64 tokens.

    python benchmarks/sample_bench.py [--batch 64] [--new 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from prmkit.models.gpt import GPT, GPTConfig
from prmkit.models.sampling import sample
from prmkit.models.steps import render
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import arithmetic


def tokens_per_second(model, prompts, new, use_cache, repeats):
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        ids, _, _ = sample(
            model,
            prompts,
            new,
            set(),
            0,
            generator=torch.Generator().manual_seed(r),
            use_cache=use_cache,
        )
        best = min(best, time.perf_counter() - t0)
        assert all(len(x) == new for x in ids)
    return len(prompts) * new / best, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tok = CharTokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size)).eval()
    problems = arithmetic.generate(args.batch, seed=0)
    prompts = [[tok.bos_id] + tok.encode(render(p["prompt"])) for p in problems]
    cached, t_c = tokens_per_second(model, prompts, args.new, True, args.repeats)
    naive, t_n = tokens_per_second(model, prompts, args.new, False, args.repeats)
    print(f"model: {model.n_params():,} parameters, threads {torch.get_num_threads()}")
    print(
        f"prompt tokens: {min(map(len, prompts))}..{max(map(len, prompts))}, batch {args.batch}, new tokens {args.new}"
    )
    print(f"kv-cache : {cached:10.0f} tokens/s  ({t_c:.3f} s)")
    print(f"naive    : {naive:10.0f} tokens/s  ({t_n:.3f} s)")
    print(f"speed-up : {cached / naive:.1f}x (goal >= 5x)")
    print(
        json.dumps(
            {
                "bench": "sample",
                "kv_tokens_per_s": round(cached),
                "naive_tokens_per_s": round(naive),
                "speedup": round(cached / naive, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
