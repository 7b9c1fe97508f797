"""Encoder PRM scoring speed: the full pass against the last layer at the tags only, one
process of N threads against N worker processes, fp32 against int8, on ProcessBench.

Each run scores the first --limit solutions of each --data file as `eval processbench`
does (`score_in_chunks`: calls of 256 solutions) and prints wall seconds, CPU seconds
(this process and its worker processes), window tokens per wall second and per CPU
second, its speed relative to the first run (wall time, same machine, same minutes),
and its largest score difference from the first run. A run is QUANT:PASS:PAR:TOKENS:

    QUANT   fp32 | int8          (--quantize none | int8)
    PASS    full | tags          (every layer at every position | last layer at the tags)
    PAR     Nt | Nw              (one process of N torch threads | N worker processes)
    TOKENS  padded tokens per pass (--max-tokens)

The default runs are the configuration of the full measurement before these options
(fp32:full:2t:16384) and the new ones. Runs alternate order over --rounds (A B C, then
C B A, ...) so that a change in the machine's load falls on all of them. Times for all
of ProcessBench are extrapolated from the subset's window tokens (labelled so; the
subset's mix of window lengths is not the full set's): `extrapolated_full_min` at this
run's wall rate, and `extrapolated_full_min_idle` from the CPU-second rate spread over
the run's N cores (what an idle machine would take if nothing else ran).

    python benchmarks/encoder_speed_bench.py --prm PRM \
        --data pb/gsm8k.json pb/omnimath.json --limit 100
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import torch

from prmkit.data.converters import read_samples
from prmkit.prm.base import score_in_chunks
from prmkit.prm.encoder import EncoderScorer
from prmkit.prm.encoder_quant import quantize_encoder
from prmkit.prm.scoring import load_prm

DEFAULT_RUNS = ["fp32:full:2t:16384", "fp32:tags:2t:2048", "fp32:tags:2w:2048", "int8:tags:2w:2048"]
FULL_TOKENS = 4_150_762
"""window tokens of all 3,400 ProcessBench solutions (window 512, context 128; counted by
benchmarks/encoder_quant_bench.py --full)"""


def parse_run(spec: str) -> dict:
    """QUANT:PASS:PAR:TOKENS as a dict (see module doc)."""
    quant, pas, par, tokens = spec.split(":")
    if quant not in ("fp32", "int8") or pas not in ("full", "tags") or par[-1] not in "tw":
        raise SystemExit(f"bad run {spec!r}: expected e.g. fp32:tags:2w:2048")
    n = int(par[:-1])
    return {"run": spec, "quantize": "none" if quant == "fp32" else "int8", "tags": pas == "tags",
            "threads": n if par[-1] == "t" else 1, "workers": n if par[-1] == "w" else 1,
            "cores": n, "max_tokens": int(tokens)}  # fmt: skip


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(model, run: dict, items) -> tuple[list, float, float]:
    """Scores, wall seconds and CPU seconds of scoring `items` as `run` says."""
    torch.set_num_threads(run["threads"])
    scorer = EncoderScorer(
        model, run["max_tokens"], skip_unread=run["tags"], workers=run["workers"]
    )
    scorer.score(items[:2])  # warm-up (thread pools, allocator)
    t0, c0 = time.time(), cpu_seconds()
    scores = score_in_chunks(scorer, items)
    return scores, time.time() - t0, cpu_seconds() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prm", required=True, help="an encoder PRM folder")
    ap.add_argument("--data", nargs="+", required=True, help="ProcessBench files")
    ap.add_argument("--limit", type=int, default=100, help="first N solutions of each file")
    ap.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="QUANT:PASS:PAR:TOKENS")
    ap.add_argument("--rounds", type=int, default=1, help="times each run is timed")
    ap.add_argument("--full-tokens", type=int, default=FULL_TOKENS, help="tokens to extrapolate to")
    a = ap.parse_args()
    items = [(s.prompt, s.steps) for f in a.data for s in read_samples(f)[: a.limit]]
    runs = [parse_run(r) for r in a.runs]
    models = {q: quantize_encoder(load_prm(a.prm).model, q) for q in {r["quantize"] for r in runs}}
    m = next(iter(models.values()))
    tokens = sum(len(t.input_ids) for p, st in items for t in m.windows(p, st))
    wall = {r["run"]: 0.0 for r in runs}
    cpu, scores = dict(wall), {}
    for k in range(a.rounds):
        for r in runs if k % 2 == 0 else runs[::-1]:
            s, w, c = timed(models[r["quantize"]], r, items)
            wall[r["run"]] += w
            cpu[r["run"]] += c
            scores[r["run"]] = sum(s, [])
            print(json.dumps({"round": k, "run": r["run"], "wall_s": round(w, 1),
                              "load_avg_1min": round(os.getloadavg()[0], 2)}), flush=True)  # fmt: skip
    ref = runs[0]["run"]
    rows = []
    for r in runs:
        name, w, c = r["run"], wall[r["run"]] / a.rounds, cpu[r["run"]] / a.rounds
        row = {"run": name, "wall_s": round(w, 1), "cpu_s": round(c, 1)}
        row |= {"tokens_per_s": round(tokens / w), "tokens_per_cpu_s": round(tokens / c)}
        row["speedup_vs_first"] = round(wall[ref] / wall[name], 3)
        diff = max(abs(x - y) for x, y in zip(scores[name], scores[ref]))
        row["max_abs_diff_vs_first"] = float(f"{diff:.2e}")
        row["extrapolated_full_min"] = round(a.full_tokens / row["tokens_per_s"] / 60, 1)
        idle = a.full_tokens / row["tokens_per_cpu_s"] / r["cores"] / 60
        row["extrapolated_full_min_idle"] = round(idle, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"benchmark": "encoder_speed", "solutions": len(items), "window_tokens": tokens}
    summary |= {"rounds": a.rounds, "load_avg_1min": round(os.getloadavg()[0], 2)}
    summary |= {"cpus": os.cpu_count(), "runs": rows}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
