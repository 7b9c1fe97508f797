"""ProcessBench over its four splits: finding the files, the mean, and the report
(JSON, a markdown table, a PNG of F1 per split and predicted against true first-error
position). Metrics as in Zheng et al. 2024 (arXiv:2412.06559): per split the F1 of
acc_error and acc_correct; the headline is the unweighted mean F1 over the splits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")
"""The four ProcessBench files, in the paper's order."""
MEAN_KEYS = ("f1", "acc_error", "acc_correct", "auroc")


def find_splits(folder: str | Path) -> dict[str, Path]:
    """{split: file} for the ProcessBench files in a folder (NAME.json or NAME.jsonl)."""
    found = {}
    for name in SPLITS:
        for ext in (".json", ".jsonl"):
            p = Path(folder) / f"{name}{ext}"
            if p.is_file():
                found[name] = p
                break
    return found


def mean_over_splits(per_split: dict[str, dict]) -> dict:
    """Unweighted mean of f1, acc_error, acc_correct and auroc over the splits (nan
    values left out, as the paper averages the four F1s)."""
    out = {}
    for k in MEAN_KEYS:
        vals = [m[k] for m in per_split.values() if not _isnan(m.get(k))]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _pct(x) -> str:
    return "n/a" if _isnan(x) else f"{100 * x:.1f}"


def markdown_table(per_split: dict[str, dict], mean: dict, title: str) -> str:
    """The per-split table with a mean row; F1 and accuracies in percent as the paper
    prints them, AUROC as a fraction, the threshold exactly as used."""
    lines = [
        f"**{title}**",
        "",
        "| split | solutions | F1 | acc_error | acc_correct | step AUROC | threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in per_split.items():
        auroc = "n/a" if _isnan(m["auroc"]) else f"{m['auroc']:.3f}"
        lines.append(
            f"| {name} | {m['n_error'] + m['n_correct']} | {_pct(m['f1'])} | "
            f"{_pct(m['acc_error'])} | {_pct(m['acc_correct'])} | {auroc} | {m['threshold']!r} |"
        )
    auroc = "n/a" if _isnan(mean["auroc"]) else f"{mean['auroc']:.3f}"
    lines.append(
        f"| **mean** | | **{_pct(mean['f1'])}** | {_pct(mean['acc_error'])} | "
        f"{_pct(mean['acc_correct'])} | {auroc} | |"
    )
    return "\n".join(lines) + "\n"


def position_counts(predicted: Sequence[int], truth: Sequence[int], cap: int = 12) -> np.ndarray:
    """(cap + 2, cap + 2) counts: rows the true first error, columns the predicted one;
    index 0 is -1 (no error), index cap + 1 pools positions >= cap."""
    m = np.zeros((cap + 2, cap + 2), dtype=int)
    for p, t in zip(predicted, truth):
        m[min(t, cap) + 1, min(p, cap) + 1] += 1
    return m


def plot_report(
    per_split: dict[str, dict], mean: dict, counts: np.ndarray, path: str, title: str
) -> str:
    """Two panels: F1 per split (and the mean); predicted against true first error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [*per_split, "mean"]
    vals = [0.0 if _isnan(m["f1"]) else 100 * m["f1"] for m in per_split.values()]
    vals.append(0.0 if _isnan(mean["f1"]) else 100 * mean["f1"])
    a.bar(names, vals, color=["#4c72b0"] * len(per_split) + ["#dd8452"])
    for i, v in enumerate(vals):
        a.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=9)
    a.set_ylim(0, 100)
    a.tick_params(axis="x", labelrotation=20)
    a.set_ylabel("F1 (%)")
    a.set_title("F1 per split")
    cap = counts.shape[0] - 2
    ticks = ["none"] + [str(i) for i in range(cap)] + [f"{cap}+"]
    im = b.imshow(np.log1p(counts), cmap="Blues", origin="lower")
    b.set_xticks(range(cap + 2), ticks, fontsize=7)
    b.set_yticks(range(cap + 2), ticks, fontsize=7)
    b.set_xlabel("predicted first error")
    b.set_ylabel("true first error")
    b.set_title("solutions (log colour; diagonal = right)")
    fig.colorbar(im, ax=b, label="log(1 + count)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(folder: str, summary: dict, table: str, counts: np.ndarray, title: str) -> dict:
    """processbench.json, processbench.md and processbench.png in `folder`."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": str(out / "processbench.json"),
        "markdown": str(out / "processbench.md"),
        "png": str(out / "processbench.png"),
    }
    Path(files["json"]).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    Path(files["markdown"]).write_text(table, encoding="utf-8")
    plot_report(summary["splits"], summary["mean"], counts, files["png"], title)
    return files
