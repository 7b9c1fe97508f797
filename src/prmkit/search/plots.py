"""Search results as plots: accuracy against N and against generated tokens."""

from __future__ import annotations

from pathlib import Path

from prmkit.report import line_plot


def plot_points(pts: dict[str, dict[int, dict]], out_dir: str, title: str = "") -> dict[str, str]:
    """Two PNGs from {label: {n: point}}: accuracy vs N (log2) and vs tokens per problem.

    Beam search's N counts proposals per round, not solutions per problem, so beam
    series appear only against tokens, where every method's x means the same thing."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    suffix = f" ({title})" if title else ""
    by_n = {
        label: (list(p), [v["accuracy"] for v in p.values()])
        for label, p in pts.items()
        if not label.startswith("beam")
    }
    by_tok = {
        label: ([v["tokens"] for v in p.values()], [v["accuracy"] for v in p.values()])
        for label, p in pts.items()
    }
    a = line_plot(
        by_n,
        str(Path(out_dir) / "accuracy_vs_n.png"),
        "Accuracy vs N" + suffix,
        "N (candidate solutions per problem)",
        "accuracy",
        logx=True,
    )
    b = line_plot(
        by_tok,
        str(Path(out_dir) / "accuracy_vs_tokens.png"),
        "Accuracy vs compute" + suffix,
        "generated tokens per problem",
        "accuracy",
        logx=True,
    )
    return {"accuracy_vs_n": a, "accuracy_vs_tokens": b}
