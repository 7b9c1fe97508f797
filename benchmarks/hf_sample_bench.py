"""Tokens per second of prmkit's Hugging Face sampling against `model.generate`.

The same tiny random Llama (built here, with a BPE tokenizer trained on arithmetic
solutions), the same batch of prompts, temperature 1, no top-k/top-p, no stop at a
step: both generate until EOS or --new tokens. Each sampler runs --repeats times; the
best time counts. `generate` is timed twice: plain, and returning the per-token scores
that prmkit needs for log-probs (`output_scores=True`).

    python benchmarks/hf_sample_bench.py [--batch 64] [--new 64] [--repeats 3] [--hidden 64]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from hf_tiny import build_tiny_hf  # noqa: E402

from prmkit.models.generator import SamplingParams  # noqa: E402
from prmkit.models.hf import HFPolicy  # noqa: E402
from prmkit.models.steps import render  # noqa: E402
from prmkit.worlds import arithmetic  # noqa: E402


def build(path: Path, hidden: int) -> HFPolicy:
    from transformers import AutoModelForCausalLM

    corpus = [render(p["prompt"], arithmetic.solve(p["prompt"])) for p in arithmetic.generate(300)]
    build_tiny_hf(path, corpus)
    pol = HFPolicy.load(path)
    if hidden != 32:  # same tokenizer, a wider random model
        cfg = pol.model.config
        cfg.hidden_size, cfg.intermediate_size = hidden, 4 * hidden
        torch.manual_seed(0)
        pol = HFPolicy(AutoModelForCausalLM.from_config(cfg), pol.tok)
    return pol


def time_best(fn, repeats: int) -> tuple[float, int]:
    best, tokens = float("inf"), 0
    for r in range(repeats):
        t0 = time.perf_counter()
        tokens = fn(r)
        best = min(best, time.perf_counter() - t0)
    return best, tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("error")  # a deprecation warning fails the benchmark
    with tempfile.TemporaryDirectory() as d:
        pol = build(Path(d), args.hidden)
    prompts = [render(p["prompt"]) for p in arithmetic.generate(args.batch, seed=1)]
    params = SamplingParams(n=1, max_new_tokens=args.new, temperature=1.0)

    def ours(r: int) -> int:
        gens = pol.generate(prompts, SamplingParams(**{**params.__dict__, "seed": r}))
        return sum(len(g[0].token_ids) for g in gens)

    enc = pol.tok(prompts, return_tensors="pt", padding=True)

    def hf(r: int, scores: bool = False) -> int:
        torch.manual_seed(r)
        out = pol.model.generate(
            **enc,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=args.new,
            pad_token_id=pol.tok.pad_token_id,
            output_scores=scores,
            return_dict_in_generate=True,
        )
        new = out.sequences[:, enc["input_ids"].shape[1] :]
        eos = pol.tok.eos_token_id
        ended = (new == eos).int().cumsum(1)  # tokens up to and including the first EOS
        return int(((ended == 0) | ((ended == 1) & (new == eos))).sum())

    with torch.no_grad():
        t_ours, n_ours = time_best(ours, args.repeats)
        t_hf, n_hf = time_best(hf, args.repeats)
        t_hfs, n_hfs = time_best(lambda r: hf(r, True), args.repeats)
    res = {
        "benchmark": "hf_sample",
        "batch": args.batch,
        "new_tokens": args.new,
        "hidden": args.hidden,
        "threads": args.threads,
        "prmkit_tok_s": round(n_ours / t_ours),
        "generate_tok_s": round(n_hf / t_hf),
        "generate_with_scores_tok_s": round(n_hfs / t_hfs),
        "ratio_vs_generate": round((n_ours / t_ours) / (n_hf / t_hf), 2),
        "ratio_vs_generate_with_scores": round((n_ours / t_ours) / (n_hfs / t_hfs), 2),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
