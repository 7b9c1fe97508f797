"""An encoder PRM with its top layers fine-tuned, trained on some ProcessBench-style files
and scored on another: F1 per seed, the frozen lower layers run once for all seeds.

    python benchmarks/realtext_finetune.py --train pb_math.jsonl pb_olympiadbench.jsonl \
        pb_omnimath.jsonl --train-n 300 --cut --eval processbench/gsm8k.json \
        --train-layers 1 --seeds 0 1 2 --steps 300 --cache ft_cache --out ft.json

`--train-n N` takes N solutions of each training file (seeded sample); `--cut` ends an
erroneous solution at its first error (its later steps are labelled wrong too, so they add
tokens, not information about where errors start). The layers below the top
`--train-layers` run once per window (`prmkit.prm.encoder_train.lower_states`), cached
in `--cache`; each seed trains the top layers and the head from the pretrained weights
(`train_top_on_states`) and scores the held-out file from its own cached lower states
(`top_scores`). `--train-layers 0` trains the head alone through the same code.
Figures as `prmkit demo --real` reports them (`prmkit.demo.real.figures`). `--eval-every N`
also scores the held-out file after every N steps (the figures per step in the row's
"curve"; scoring runs in eval mode and draws no random numbers, so the training is the
same with or without it; its seconds count in "train_seconds"). `--save DIR` writes seed
0's PRM and checks its scores through `load_prm` on `--verify` solutions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

import torch

from prmkit.data.converters import read_samples
from prmkit.demo.real import figures
from prmkit.prm.encoder import EncoderStepModel
from prmkit.prm.encoder_train import (
    lower_states,
    top_scores,
    train_top_on_states,
    training_items,
)
from prmkit.prm.scoring import load_prm
from prmkit.prm.train import TrainSettings

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--train", nargs="+", required=True, help="labelled training files")
ap.add_argument("--train-n", type=int, default=0, help="solutions per training file (0: all)")
ap.add_argument("--cut", action="store_true", help="end erroneous solutions at the first error")
ap.add_argument("--eval", required=True, help="held-out file (ProcessBench JSON or JSONL)")
ap.add_argument("--eval-n", type=int, default=0, help="first N held-out solutions (0: all)")
ap.add_argument("--train-layers", type=int, default=1, help="top layers trained (0: head)")
ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
ap.add_argument("--steps", type=int, default=300)
ap.add_argument("--batch-size", type=int, default=16)
ap.add_argument("--lr", type=float, default=3e-4)
ap.add_argument("--warmup", type=int, default=20)
ap.add_argument("--cache", required=True, help="folder for the cached lower states")
ap.add_argument("--out", required=True, help="results JSON")
ap.add_argument("--save", default="", help="save seed 0's PRM here")
ap.add_argument("--verify", type=int, default=10, help="check N held-out scores via load_prm")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument(
    "--eval-every",
    type=int,
    default=0,
    help="also score the held-out file every N steps (0: at the end only)",
)


def cut_at_first_error(items):
    """(prompt, steps, targets) ending at the first step labelled wrong."""
    out = []
    for p, steps, t in items:
        k = next((i for i, v in enumerate(t) if v is not None and v < 0.5), len(t) - 1)
        out.append((p, steps[: k + 1], t[: k + 1]))
    return out


def windows(model, items):
    """Every window of every item and the item it belongs to."""
    rows, owner = [], []
    for i, item in enumerate(items):
        w = model.windows(*item)
        rows += w
        owner += [i] * len(w)
    return rows, owner


def digest(items) -> str:
    """A short hash of the solutions' text and labels: the cache's name, so a cache
    folder never serves the states of other solutions of the same count."""
    return hashlib.sha1(repr(items).encode()).hexdigest()[:12]


def cached(path: Path, compute):
    """torch.load(path) if it exists (our own cache), else compute() saved there."""
    if path.exists():
        return torch.load(path, weights_only=False)
    t0 = time.time()
    out = compute()
    out["seconds"] = round(time.time() - t0, 1)
    torch.save(out, path)
    return out


def curve_eval(every, steps, model, split, ev, test, seed, curve):
    """An on_step callback appending the held-out figures to `curve` every `every` steps
    (not at the last: the row has those)."""

    def checkpoint(n: int) -> None:
        if every and n % every == 0 and n < steps:
            got = top_scores(model, split, ev["rows"], ev["states"], ev["owner"])
            curve.append({"step": n} | figures(got, test))
            print(json.dumps({"seed": seed} | curve[-1]), flush=True)

    return checkpoint


def main() -> None:
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    base = EncoderStepModel.from_pretrained("minilm", a.train_layers)
    split = base.n_layers - a.train_layers
    train = []
    for f in a.train:
        s = read_samples(f)
        train += random.Random(0).sample(s, a.train_n) if a.train_n else s
    items = training_items(base, train, "hard")
    items = cut_at_first_error(items) if a.cut else items
    test = read_samples(a.eval)
    test = test[: a.eval_n] if a.eval_n else test
    key = f"L{split}_n{a.train_n}_cut{int(a.cut)}_{len(train)}_{digest(items)}"

    def encode(its):
        rows, owner = windows(base, its)
        states = lower_states(base, rows, split, progress=True)
        return {"rows": rows, "owner": owner, "states": states}

    tr = cached(cache / f"train_{key}.pt", lambda: encode(items))
    ev_items = [(x.prompt, x.steps, None) for x in test]
    ev = cached(
        cache / f"eval_L{split}_{len(test)}_{digest(ev_items)}.pt", lambda: encode(ev_items)
    )
    tokens = {n: sum(len(r.input_ids) for r in d["rows"]) for n, d in (("train", tr), ("eval", ev))}
    print(json.dumps({"cached": key, "tokens": tokens, "seconds": [tr["seconds"], ev["seconds"]]}))
    rows = []
    for seed in a.seeds:
        torch.manual_seed(seed)
        model = EncoderStepModel.from_pretrained("minilm", a.train_layers)
        s = TrainSettings(
            steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, seed=seed
        )
        curve: list[dict] = []
        checkpoint = curve_eval(a.eval_every, a.steps, model, split, ev, test, seed, curve)

        log = train_top_on_states(
            model, split, tr["rows"], tr["states"], s, progress=True, on_step=checkpoint
        )
        t0 = time.time()
        scores = top_scores(model, split, ev["rows"], ev["states"], ev["owner"])
        row = {"seed": seed, "train_layers": a.train_layers, "steps": a.steps}
        row |= figures(scores, test) | {
            "loss_first": log["loss_first"],
            "loss_last": log["loss_last"],
            "train_seconds": log["seconds"],
            "score_seconds": round(time.time() - t0, 1),
        }
        row |= {"curve": curve} if curve else {}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if a.save and seed == a.seeds[0]:
            d = model.save(Path(a.save), {"train": {"seed": seed, "steps": a.steps}})
            got = load_prm(str(d)).score([(x.prompt, x.steps) for x in test[: a.verify]])
            diff = max(abs(u - v) for g, h in zip(got, scores) for u, v in zip(g, h))
            print(json.dumps({"verify": str(d), "max_abs_diff": diff}), flush=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "tokens": tokens}, indent=1) + "\n")
    print(json.dumps({"benchmark": "realtext_finetune", "rows": len(rows), "out": a.out}))


if __name__ == "__main__":
    main()
