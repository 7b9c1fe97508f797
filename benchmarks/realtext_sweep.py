"""Real-text PRM sweep: all-MiniLM-L6-v2 frozen, a linear head trained on perturbation
labels (GSM8K train), on ProcessBench human labels of the other splits (leave one split
out, a cross-split experiment), or on both; ProcessBench F1 per split, at threshold 0.5
and dev-chosen, against training steps, over several seeds.

Every solution is encoded once (`tag_features`, cached under --cache), so seeds and
step counts cost only the head's training. The scores are exactly those the saved PRM
gives (`--verify` checks one saved model through `load_prm`).

    python benchmarks/realtext_sweep.py --perturb perturb.jsonl --processbench DIR \
        --cache feats --out sweep.json --plot f1_steps.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from realtext_finetune import digest  # this folder is on a script's path

from prmkit.data.converters import read_samples
from prmkit.demo.real import figures
from prmkit.evaluate.processbench import true_first_error
from prmkit.prm.encoder import EncoderStepModel
from prmkit.prm.encoder_train import head_scores, tag_features, train_head
from prmkit.prm.scoring import load_prm
from prmkit.prm.train import TrainSettings, step_targets

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")


def features(model, name: str, samples, cache: Path):
    """Tag states of these samples (targets: their hard labels), cached as
    NAME_DIGEST.pt (the digest of their text and labels: another file of the same size
    never reads these)."""
    items = [(s.prompt, s.steps, step_targets(s)) for s in samples]
    path = cache / f"{name}_{digest(items)}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)  # our own cache
    t0 = time.time()
    f = tag_features(model, items, progress=True)
    tokens = sum(len(t.input_ids) for p, st, _ in items for t in model.windows(p, st))
    out = {"f": f, "seconds": time.time() - t0, "tokens": tokens, "n": len(samples)}
    torch.save(out, path)
    print(
        json.dumps(
            {
                "encoded": name,
                "n": len(samples),
                "tokens": tokens,
                "seconds": round(out["seconds"], 1),
            }
        ),
        flush=True,
    )
    return out


def subset(f, keep: torch.Tensor):
    """The rows of some solutions, renumbered 0..k-1 in order."""
    from prmkit.prm.encoder_train import TagFeatures

    rows = keep[f.sample]
    new = torch.cumsum(keep.long(), 0) - 1
    return TagFeatures(f.x[rows], f.y[rows], new[f.sample[rows]], f.step[rows])


def concat(parts):
    from prmkit.prm.encoder_train import TagFeatures

    off, xs = 0, []
    for f, n in parts:
        xs.append((f.x, f.y, f.sample + off, f.step))
        off += n
    return TagFeatures(*(torch.cat([p[i] for p in xs]) for i in range(4)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--perturb", required=True, help="perturbation-labeled GSM8K train samples")
    ap.add_argument("--perturb-n", type=int, default=800, help="first N perturbation samples")
    ap.add_argument("--processbench", required=True, help="folder of the four ProcessBench files")
    ap.add_argument(
        "--pb-n",
        type=int,
        default=100,
        help="first N solutions of math, olympiadbench, omnimath (gsm8k: all)",
    )
    ap.add_argument(
        "--pb-correct",
        type=int,
        default=30,
        help="first N correct solutions of math, olympiadbench, omnimath",
    )
    ap.add_argument("--gsm8k-n", type=int, default=0, help="first N gsm8k solutions (0: all)")
    ap.add_argument("--eval", nargs="+", default=["gsm8k"], help="held-out splits to score")
    ap.add_argument("--sources", nargs="+", default=["perturb", "loso", "both"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200, 400, 800])
    ap.add_argument("--batch-size", type=int, default=32, help="solutions per head step")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--cache", required=True, help="folder for the encoded tag states")
    ap.add_argument("--out", required=True, help="results JSON")
    ap.add_argument("--plot", default="", help="PNG: F1 (threshold 0.5) against head steps")
    ap.add_argument(
        "--scores",
        default="",
        help="per-solution scores of seed 0's final head (JSONL per source and split)",
    )
    ap.add_argument("--save", default="", help="save the final PRM of seed 0 per source here")
    ap.add_argument("--verify", type=int, default=20, help="check N gsm8k scores via load_prm")
    ap.add_argument("--encode-only", action="store_true", help="encode and cache, then stop")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    model = EncoderStepModel.from_pretrained("minilm", train_layers=0)
    data = {"perturb": read_samples(a.perturb)[: a.perturb_n]}
    for sp in SPLITS:
        s = read_samples(Path(a.processbench) / f"{sp}.json")
        if sp == "gsm8k":
            data[sp] = s[: a.gsm8k_n] if a.gsm8k_n else s
        else:  # the files list erroneous solutions first: take some of each
            data[sp + ":err"] = [x for x in s if x.first_error >= 0][: a.pb_n]
            data[sp + ":ok"] = [x for x in s if x.first_error < 0][: a.pb_correct]
    names = [n for n in data if n != "perturb"]
    if "loso" not in a.sources and "both" not in a.sources:
        names = [n for n in names if n.split(":")[0] in a.eval]
    enc = {"perturb": features(model, f"perturb_{len(data['perturb'])}", data["perturb"], cache)}
    for n in names:
        tag = n.replace(":err", "").replace(":ok", "_correct")
        enc[n] = features(model, f"{tag}_{len(data[n])}", data[n], cache)
    for sp in SPLITS[1:]:  # one feature set and one sample list per split
        if sp + ":err" in enc:
            parts = [(enc[sp + k]["f"], len(data[sp + k])) for k in (":err", ":ok")]
            enc[sp] = {"f": concat(parts)}
            data[sp] = data[sp + ":err"] + data[sp + ":ok"]
    if a.encode_only:
        return
    rows = []
    for ev in a.eval:
        test = data[ev]
        others = [(enc[sp]["f"], len(data[sp])) for sp in SPLITS if sp != ev and sp in enc]
        train = {
            "perturb": (enc["perturb"]["f"], len(data["perturb"])),
            "loso": (concat(others), sum(n for _, n in others)) if others else None,
        }
        if train["loso"] is not None:
            train["both"] = (
                concat([train["perturb"], train["loso"]]),
                train["perturb"][1] + train["loso"][1],
            )
        for src in a.sources:
            if train.get(src) is None:
                continue
            f, _ = train[src]
            for seed in a.seeds:
                torch.manual_seed(seed)
                head = torch.nn.Linear(f.x.shape[1], 1)
                torch.nn.init.zeros_(head.weight)
                torch.nn.init.zeros_(head.bias)
                done = 0
                for total in sorted(a.steps):
                    # one cosine schedule per length: each point is its own training run
                    head = torch.nn.Linear(f.x.shape[1], 1)
                    torch.nn.init.zeros_(head.weight)
                    torch.nn.init.zeros_(head.bias)
                    st = TrainSettings(
                        steps=total,
                        batch_size=a.batch_size,
                        lr=a.lr,
                        warmup=min(20, total // 5),
                        seed=seed,
                    )
                    log = train_head(head, f, st, progress=False)
                    sc = head_scores(head, enc[ev]["f"], len(test))
                    row = {"eval": ev, "source": src, "seed": seed, "steps": total}
                    row |= figures(sc, test) | {"loss_last": log["loss_last"]}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    done = total
                if a.scores and seed == a.seeds[0]:
                    d = Path(a.scores)
                    d.mkdir(parents=True, exist_ok=True)
                    with open(d / f"{src}_s{seed}__{ev}.jsonl", "w") as fh:
                        for smp, scs in zip(test, sc):
                            rec = {"id": smp.id, "scores": [round(v, 4) for v in scs]}
                            rec |= {"label": true_first_error(smp), "correct": smp.correct}
                            fh.write(json.dumps(rec) + "\n")
                if a.save and seed == a.seeds[0] and ev == a.eval[0]:
                    model.head.load_state_dict(head.state_dict())
                    d = Path(a.save) / f"{src}_s{seed}"
                    model.save(d, {"train": {"source": src, "seed": seed, "steps": done}})
                    if a.verify:
                        got = load_prm(str(d)).score(
                            [(s.prompt, s.steps) for s in test[: a.verify]]
                        )
                        diff = max(abs(x - y) for g, h in zip(got, sc) for x, y in zip(g, h))
                        print(json.dumps({"verify": str(d), "max_abs_diff": diff}), flush=True)
    timing = {
        n: {k: round(v, 1) if isinstance(v, float) else v for k, v in e.items() if k != "f"}
        for n, e in enc.items()
        if "seconds" in e
    }
    Path(a.out).write_text(json.dumps({"rows": rows, "encode": timing}, indent=1) + "\n")
    if a.plot:
        plot(rows, a.plot)
    print(json.dumps({"benchmark": "realtext_sweep", "rows": len(rows), "out": a.out}))


def plot(rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evs = sorted({r["eval"] for r in rows})
    fig, axes = plt.subplots(1, len(evs), figsize=(5 * len(evs), 3.6), squeeze=False)
    for ax, ev in zip(axes[0], evs):
        for src in sorted({r["source"] for r in rows}):
            pts = [r for r in rows if r["eval"] == ev and r["source"] == src]
            steps = sorted({r["steps"] for r in pts})
            f1 = [
                [r["f1_05"] for r in pts if r["steps"] == s and r["f1_05"] == r["f1_05"]]
                for s in steps
            ]
            steps, f1 = [s for s, v in zip(steps, f1) if v], [v for v in f1 if v]  # no NaN
            mean = [sum(v) / len(v) for v in f1]
            ax.plot(steps, mean, marker="o", label=src)
            ax.fill_between(steps, [min(v) for v in f1], [max(v) for v in f1], alpha=0.2)
        if any(line.get_xdata().size for line in ax.get_lines()):
            ax.set_xscale("log")
        ax.set_xlabel("head training steps")
        ax.set_ylabel("ProcessBench F1 (threshold 0.5)")
        ax.set_title(f"held out: {ev}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
