"""Evaluate a PRM on ProcessBench as the paper does: first-error F1 per split and the mean."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from prmkit.data import InputError, Sample, write_jsonl
from prmkit.data.converters import read_samples, report_skipped
from prmkit.evaluate.processbench import (
    evaluate_scores,
    in_dev,
    predict_first_error,
    select_threshold,
    true_first_error,
)
from prmkit.evaluate.report_processbench import (
    find_splits,
    markdown_table,
    mean_over_splits,
    position_counts,
    write_report,
)
from prmkit.prm.options import PRMOptions, rule_world, score_samples
from prmkit.worlds import WORLDS


@dataclass(kw_only=True)
class Config(PRMOptions):
    RANGES: ClassVar[dict[str, str]] = {
        "threshold": "[0, 1]",
        "dev_fraction": "(0, 1)",
        "seed": ">= 0",
        "max_tokens": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm: str
    """the PRM: rule, local-rule, rule:WORLD, local-rule:WORLD (a world's checker; on ProcessBench: gsm8k's free-text arithmetic checker), a trained PRM's directory, or a published PRM's folder (or hub id, online): see --prm-format; PRM+rule[:WORLD] puts the checker in front of any of them (each step scores the lower of the two)"""
    data: str
    """a ProcessBench file (the official JSON list, or JSONL of id, problem, steps, label; any sample file whose first errors are known), or a folder holding gsm8k, math, olympiadbench and omnimath .json: every split is run"""
    threshold: float = 0.5
    """a step scoring below it is an error (the paper's 0.5 on the whole file)"""
    sweep: bool = False
    """instead of --threshold, choose the best-F1 threshold on a dev set (--dev, else a held-out --dev-fraction of each file) and report on the rest; labelled 'dev-split sweep' or 'dev-file sweep', not comparable with the paper"""
    dev: str = ""
    """with --sweep: a separate file to choose the threshold on"""
    dev_fraction: float = 0.3
    """with --sweep and no --dev: the fraction of problems held out of each file to choose its threshold"""
    seed: int = 0
    """with --sweep and no --dev: seed of the dev split"""
    world: str = "auto"
    """the world whose checker a rule PRM uses (arithmetic, gsm8k, ...); auto: a sample's meta.world, else arithmetic for arithmetic-world prompts, else gsm8k (free text). A world named in --prm (rule:gsm8k) wins"""
    out: str = ""
    """optional JSONL: per solution its split, step scores, predicted and true first error"""
    report: str = ""
    """optional folder: processbench.json, processbench.md (the table) and processbench.png (F1 per split; predicted against true first error)"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    max_tokens: int | None = None
    """padded tokens per forward pass when scoring a model PRM (default: the PRM's own: 16384 for a published PRM; a prmkit PRM on CPU 2048, where small passes run fastest, except an encoder PRM in one process of several threads, 16384; on an accelerator 16384)"""
    progress: bool = True
    """show progress bars (stderr)"""

    def check(self) -> None:
        if not self.sweep and (self.dev or self.dev_fraction != 0.3 or self.seed != 0):
            raise ValueError("--dev, --dev-fraction and --seed choose a threshold: add --sweep")
        if self.sweep and self.threshold != 0.5:
            raise ValueError("--sweep chooses the threshold: give --threshold or --sweep, not both")
        if self.world != "auto" and self.world not in WORLDS:
            raise ValueError(f"--world must be auto or one of {sorted(WORLDS)}")


def _clean(x):
    return (
        None
        if isinstance(x, float) and math.isnan(x)
        else (round(x, 4) if isinstance(x, float) else x)
    )


def clean_metrics(m: dict) -> dict:
    """Rounded for the summary, nan as null; the threshold exactly as used."""
    return {k: (v if k == "threshold" else _clean(v)) for k, v in m.items()}


def evaluate_split(prm, name: str, data: list[Sample], path: str, cfg: Config, dev_thr):
    """One file's samples: (metrics, per-solution rows, steps scored)."""
    if cfg.sweep and dev_thr is None:
        dev = [s for s in data if in_dev(s.problem_id, cfg.dev_fraction, cfg.seed)]
        test = [s for s in data if not in_dev(s.problem_id, cfg.dev_fraction, cfg.seed)]
        if not dev or not test:
            raise InputError("too few problems to split off a dev set; drop --sweep", path)
        dev_scores = score_samples(prm, dev, path, f"{name} (dev)", cfg.progress)
        thr = select_threshold(dev_scores, [true_first_error(s) for s in dev])
    else:
        dev, test = [], data
        thr = cfg.threshold if dev_thr is None else dev_thr
    scores = score_samples(prm, test, path, name, cfg.progress)
    truth = [true_first_error(s) for s in test]
    m = evaluate_scores(scores, truth, thr) | {"n_eval": len(test), "n_dev": len(dev)}
    rows = [
        {"split": name, "id": s.id, "scores": sc, "predicted": predict_first_error(sc, thr)}
        | {"label": t}
        for s, sc, t in zip(test, scores, truth)
    ]
    return m, rows, sum(len(s.steps) for s in test + dev)


def _files(data: str) -> dict[str, Path]:
    p = Path(data)
    if p.is_dir():
        found = find_splits(p)
        if not found:
            raise InputError("no ProcessBench files (gsm8k.json, math.json, ...) here", data)
        return found
    return {p.stem: p}


def _source(cfg: Config) -> str:
    if not cfg.sweep:
        return "fixed"
    return "dev-file sweep" if cfg.dev else "dev-split sweep"


def run(cfg: Config) -> dict:
    files = _files(cfg.data)
    invalid = [] if cfg.skip_invalid else None
    data = {name: read_samples(path, invalid=invalid) for name, path in files.items()}
    world = rule_world(cfg.prm, cfg.world, next(iter(data.values()))[0])
    prm = cfg.load(cfg.prm, world or "arithmetic", max_tokens=cfg.max_tokens)
    t0 = time.time()
    dev_thr = None
    if cfg.sweep and cfg.dev:
        dev = read_samples(cfg.dev, invalid=invalid)
        dev_scores = score_samples(prm, dev, cfg.dev, "dev", cfg.progress)
        dev_thr = select_threshold(dev_scores, [true_first_error(s) for s in dev])
    per_split, rows, n_steps = {}, [], 0
    for name, path in files.items():
        m, r, n = evaluate_split(prm, name, data[name], str(path), cfg, dev_thr)
        per_split[name], rows, n_steps = m, rows + r, n_steps + n
    secs = time.time() - t0
    if cfg.out:
        write_jsonl(cfg.out, rows)
    skipped = report_skipped(invalid)
    head = {"command": "eval processbench", "prm": cfg.prm, "kind": prm.kind, "world": world}
    tail = {
        "threshold_from": _source(cfg),
        "skipped": skipped,
        "steps_per_s": round(n_steps / max(secs, 1e-9), 1),
        "seconds": round(secs, 2),
    }
    if Path(cfg.data).is_dir():  # per split, and their mean
        body = {"splits": {k: clean_metrics(v) for k, v in per_split.items()}}
        body["mean"] = clean_metrics(mean_over_splits(per_split))
    else:  # one file: its metrics at the top level
        body = clean_metrics(next(iter(per_split.values())))
    summary = head | {"data": cfg.data} | body | tail
    if cfg.report:
        summary["report"] = _report(cfg, per_split, rows, summary)
    return summary


def _report(cfg: Config, per_split: dict, rows: list[dict], summary: dict) -> dict:
    mean = mean_over_splits(per_split)
    how = f"threshold {cfg.threshold!r}" if not cfg.sweep else _source(cfg)
    title = f"ProcessBench, PRM {cfg.prm} ({how})"
    table = markdown_table(per_split, mean, title)
    counts = position_counts([r["predicted"] for r in rows], [r["label"] for r in rows])
    full = dict(summary) | {"splits": {k: clean_metrics(v) for k, v in per_split.items()}}
    full["mean"] = clean_metrics(mean)
    return write_report(cfg.report, full, table, counts, title)
