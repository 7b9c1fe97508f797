"""Plot the held-out figures of `realtext_finetune.py --eval-every` runs against training
steps: F1 at 0.5, dev-chosen F1 and step AUROC, one colour per name (runs
of one name, e.g. one seed each, share it), one line style per seed.

    python benchmarks/realtext_curves.py ftp.json ft6_200.json --names perturb loso \
        --out curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PANELS = (
    ("f1_05", "F1 at 0.5"),
    ("f1_dev", "F1, dev-chosen threshold"),
    ("auroc_step", "step AUROC"),
)


def points(row: dict) -> list[dict]:
    """The row's figures along training: its curve, then the end of training."""
    return [*row.get("curve", []), {"step": row["steps"]} | row]


def read_rows(path: str) -> list[dict]:
    """The rows of one results file; `FILE: what is wrong` and exit 2 on a bad one."""
    try:
        rows = json.loads(Path(path).read_text())["rows"]
        for row in rows:  # the keys main() plots, in the row and along its curve
            row["seed"]
            for point in points(row):
                for key, _ in PANELS:
                    point[key]
        return rows
    except OSError as e:
        wrong = f"{path}: cannot read: {e.strerror}"
    except json.JSONDecodeError as e:
        wrong = f"{path}:{e.lineno}: not JSON: {e.msg}"
    except (KeyError, TypeError) as e:
        wrong = f"{path}: not a realtext_finetune.py results file (no {e})"
    print(f"error: {wrong}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="results JSON of realtext_finetune.py")
    ap.add_argument(
        "--names",
        nargs="+",
        default=[],
        help="a name per run (default: file name); runs may share one",
    )
    ap.add_argument("--out", required=True, help="PNG")
    a = ap.parse_args()
    names = a.names or [Path(r).stem for r in a.runs]
    if len(names) != len(a.runs):
        ap.error(f"{len(a.runs)} runs but {len(names)} --names")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 3.8))
    colour = {n: f"C{i}" for i, n in enumerate(dict.fromkeys(names))}  # one per name
    for run, name in zip(a.runs, names):
        for row in read_rows(run):
            pts = points(row)
            for ax, (key, _) in zip(axes, PANELS):
                ax.plot(
                    [p["step"] for p in pts],
                    [p[key] for p in pts],
                    marker="o",
                    color=colour[name],
                    linestyle=("-", "--", ":", "-.")[row["seed"] % 4],
                    label=f"{name}, seed {row['seed']}",
                    alpha=0.85,
                )
    for ax, (_, title) in zip(axes, PANELS):
        ax.set_title(title)
        ax.set_xlabel("training steps (batches of 16)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(json.dumps({"benchmark": "realtext_curves", "runs": len(a.runs), "out": a.out}))


if __name__ == "__main__":
    main()
