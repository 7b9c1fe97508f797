"""Plot search results: accuracy against N and against generated tokens (PNG)."""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.data import read_jsonl
from prmkit.search import SearchRecord, points
from prmkit.search.plots import plot_points


@dataclass
class Config:
    results: list[str]
    """result files written by `prmkit search --out` (records with the same label are one series; several seeds are pooled)"""
    out: str
    """output directory for accuracy_vs_n.png and accuracy_vs_tokens.png"""
    title: str = ""
    """text added to both plot titles (e.g. the policy and PRM)"""


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
