"""Encoder PRM scoring speed, fp32 against `--quantize int8`, on ProcessBench solutions.

For each mode: the first --limit solutions of each --data file scored in one pass
(`EncoderScorer`, windows of whole steps), wall seconds and CPU seconds of this process,
window tokens per wall second and per CPU second, and the largest score difference from
fp32. The window tokens of every solution of --full (the folder of the four ProcessBench
files) are counted, and the time to score them all is extrapolated (labelled so: the
subset's mix of window lengths is not the full set's) from the tokens per wall second,
and, as `extrapolated_full_min_idle`, from the tokens per CPU second spread over the
threads: what an idle machine would take if the threads scale perfectly. On a shared
machine the CPU-second rate is the steadier figure.

    python benchmarks/encoder_quant_bench.py --prm PRM --data pb/gsm8k.json pb/omnimath.json \
        --limit 200 --threads 1 --full pb
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from prmkit.data.converters import read_samples
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel
from prmkit.prm.encoder_quant import quantize_encoder
from prmkit.prm.scoring import load_prm
from prmkit.prm.tagging import length_buckets

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")


def open_model(prm: str) -> EncoderStepModel:
    """An encoder PRM folder, or minilm with a random head (seed 0)."""
    if prm != "minilm":
        return load_prm(prm).model
    model = EncoderStepModel.from_pretrained("minilm").eval()
    torch.manual_seed(0)
    torch.nn.init.normal_(model.head.weight, std=0.05)
    return model


def window_tokens(model: EncoderStepModel, items, max_tokens: int) -> dict:
    """Real and padded window tokens when `items` are scored in chunks of 256 solutions
    (`score_in_chunks`), batched by length as `EncoderScorer` does."""
    real = padded = windows = 0
    for i in range(0, len(items), 256):
        lens = [len(t.input_ids) for p, st in items[i : i + 256] for t in model.windows(p, st)]
        real += sum(lens)
        windows += len(lens)
        for chunk in length_buckets(lens, max_tokens, 64):
            padded += len(chunk) * max(lens[j] for j in chunk)
    return {"windows": windows, "window_tokens": real, "padded_tokens": padded}


def timed(model: EncoderStepModel, items, max_tokens: int) -> tuple[list, float, float]:
    """Scores, wall seconds and CPU seconds of one `EncoderScorer` pass, after a warm-up."""
    scorer = EncoderScorer(model, max_tokens=max_tokens)
    scorer.score(items[:2])
    t0, c0 = time.time(), time.process_time()
    scores = [s for i in range(0, len(items), 256) for s in scorer.score(items[i : i + 256])]
    return scores, time.time() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prm", default="minilm", help="an encoder PRM folder, or minilm")
    ap.add_argument("--data", nargs="+", required=True, help="ProcessBench files")
    ap.add_argument("--limit", type=int, default=200, help="first N solutions of each file")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--modes", nargs="+", default=["none", "int8"], help="none (fp32), int8")
    ap.add_argument("--max-tokens", type=int, default=16384, help="padded tokens per pass")
    ap.add_argument("--full", default="", help="folder of the four files to extrapolate to")
    ap.add_argument(
        "--full-tokens", type=int, default=0, help="their window tokens, when known (no --full)"
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    items = [(s.prompt, s.steps) for f in a.data for s in read_samples(f)[: a.limit]]
    base = open_model(a.prm)
    subset = window_tokens(base, items, a.max_tokens)
    full = None
    if a.full:
        every = [
            (s.prompt, s.steps) for n in SPLITS for s in read_samples(Path(a.full) / f"{n}.json")
        ]
        full = window_tokens(base, every, a.max_tokens) | {"solutions": len(every)}
    elif a.full_tokens:
        full = {"window_tokens": a.full_tokens}
    rows, ref = [], None
    for mode in a.modes:
        model = quantize_encoder(open_model(a.prm), mode)
        scores, wall, cpu = timed(model, items, a.max_tokens)
        row = {"mode": "fp32" if mode == "none" else mode, "wall_s": round(wall, 1)}
        row |= {"cpu_s": round(cpu, 1), "tokens_per_s": round(subset["window_tokens"] / wall)}
        row["tokens_per_cpu_s"] = round(subset["window_tokens"] / cpu)
        if ref is None and mode == "none":
            ref = scores
        elif ref is not None:
            row["max_abs_diff_vs_fp32"] = round(
                max(abs(x - y) for u, v in zip(scores, ref) for x, y in zip(u, v)), 4
            )
        if full:
            n = full["window_tokens"]
            row["extrapolated_full_min"] = round(n / row["tokens_per_s"] / 60, 1)
            # on an idle machine: the measured CPU seconds spread over the threads
            idle = n / row["tokens_per_cpu_s"] / a.threads / 60
            row["extrapolated_full_min_idle"] = round(idle, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"benchmark": "encoder_quant", "solutions": len(items), "threads": a.threads}
    summary |= {"load_avg_1min": round(os.getloadavg()[0], 2), **subset, "modes": rows}
    if full:
        summary["full"] = full
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
