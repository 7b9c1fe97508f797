"""Small plotting helpers for reports (matplotlib, headless)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def bar_plot(counts: dict[str, float], path: str, title: str, ylabel: str) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(counts), list(counts.values()), color="#4c72b0")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# marker and dash pattern per series, in order: no two series look alike
STYLES = [
    {"marker": m, "linestyle": ls}
    for m, ls in zip("osD^vP<>X*", ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 2, 4, 2))] * 2)
]


def line_plot(
    series: dict[str, tuple[list[float], list[float]]],
    path: str,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
) -> str:
    """series: name -> (xs, ys). Each series has its own marker and dash pattern, and
    lines are half transparent, so a series that lies on top of another stays visible."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for i, (name, (xs, ys)) in enumerate(series.items()):
        style = STYLES[i % len(STYLES)]
        ax.plot(xs, ys, label=name, alpha=0.75, markersize=7 - i % 3, **style)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
