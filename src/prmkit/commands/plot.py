"""Plot search results: accuracy against N and against generated tokens (PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prmkit.data import read_jsonl
from prmkit.report import line_plot
from prmkit.search import SearchRecord, points


@dataclass
class Config:
    results: list[str]
    """result files written by `prmkit search --out` (records with the same label are one series; several seeds are pooled)"""
    out: str
    """output directory for accuracy_vs_n.png and accuracy_vs_tokens.png"""
    title: str = ""
    """text added to both plot titles (e.g. the policy and PRM)"""


def plot_points(pts: dict[str, dict[int, dict]], out_dir: str, title: str = "") -> dict[str, str]:
    """Two PNGs from {label: {n: point}}: accuracy vs N (log2) and vs tokens per problem."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    suffix = f" ({title})" if title else ""
    by_n = {label: (list(p), [v["accuracy"] for v in p.values()]) for label, p in pts.items()}
    by_tok = {
        label: ([v["tokens"] for v in p.values()], [v["accuracy"] for v in p.values()])
        for label, p in pts.items()
    }
    a = line_plot(
        by_n,
        str(Path(out_dir) / "accuracy_vs_n.png"),
        "Accuracy vs N" + suffix,
        "N (candidates per problem; beam: per round)",
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


def run(cfg: Config) -> dict:
    records: list[SearchRecord] = []
    for path in cfg.results:
        records += read_jsonl(path, SearchRecord.from_dict)
    pts = points(records)
    files = plot_points(pts, cfg.out, cfg.title)
    return (
        {"command": "plot", "out": cfg.out}
        | files
        | {"points": {k: {str(n): v["accuracy"] for n, v in p.items()} for k, p in pts.items()}}
    )
