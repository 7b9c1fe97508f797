"""Evaluate a PRM ProcessBench-style: first-error accuracy on wrong and right solutions, F1, AUROC."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Literal

from prmkit.data import InputError, Sample, write_jsonl
from prmkit.data.converters import read_samples
from prmkit.data.formats import sample_labels
from prmkit.evaluate.processbench import evaluate_scores, predict_first_error, select_threshold
from prmkit.prm.base import PRMFormat
from prmkit.prm.scoring import load_prm


@dataclass
class Config:
    prm: str
    """the PRM: a checkpoint directory (prm, orm, implicit-prm), 'rule', or a published PRM's folder (or hub id, online): see --prm-format"""
    data: str
    """ProcessBench data (JSON list or JSONL of id, problem, steps, label), or any sample file whose first errors are known"""
    threshold: float | None = None
    """fixed threshold on step scores; default: the best-F1 threshold on --dev, else on a dev split of --data"""
    dev: str = ""
    """a separate file to choose the threshold on"""
    dev_fraction: float = 0.3
    """without --threshold or --dev: the fraction of problems held out of --data to choose the threshold"""
    out: str = ""
    """optional JSONL: per solution its step scores, predicted and true first error"""
    seed: int = 0
    """seed of the dev split"""
    max_tokens: int = 16384
    """padded tokens per forward pass when scoring"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    batch_size: int | None = None
    """most solutions per forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""

    def check(self) -> None:
        if not 0 < self.dev_fraction < 1:
            raise ValueError("--dev-fraction must lie in (0, 1)")


def true_first_error(s: Sample) -> int:
    """The exact grade's first error when the sample has one, else its labels'."""
    return s.first_error if s.first_error is not None else sample_labels(s).first_error


def in_dev(problem_id: str, fraction: float, seed: int) -> bool:
    h = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < fraction


def _clean(x):
    return (
        None
        if isinstance(x, float) and math.isnan(x)
        else (round(x, 4) if isinstance(x, float) else x)
    )


def score_samples(prm, samples: list[Sample], path: str) -> list[list[float]]:
    try:
        return prm.score([(s.prompt, s.steps) for s in samples])
    except ValueError as e:
        raise InputError(str(e), path) from None


def run(cfg: Config) -> dict:
    data = read_samples(cfg.data)
    prm = load_prm(
        cfg.prm, cfg.prm_format, cfg.device, cfg.dtype, cfg.batch_size, max_tokens=cfg.max_tokens
    )
    t0 = time.time()
    if cfg.threshold is not None:
        dev, test, source = [], data, "fixed"
    elif cfg.dev:
        dev, test, source = read_samples(cfg.dev), data, "dev-file"
    else:
        dev = [s for s in data if in_dev(s.problem_id, cfg.dev_fraction, cfg.seed)]
        test = [s for s in data if not in_dev(s.problem_id, cfg.dev_fraction, cfg.seed)]
        source = "dev-split"
        if not dev or not test:
            raise InputError(
                "too few problems to split off a dev set; pass --threshold or --dev", cfg.data
            )
    test_scores = score_samples(prm, test, cfg.data)
    truth = [true_first_error(s) for s in test]
    if cfg.threshold is not None:
        thr = cfg.threshold
    else:
        dev_scores = score_samples(prm, dev, cfg.dev or cfg.data)
        thr = select_threshold(dev_scores, [true_first_error(s) for s in dev])
    m = evaluate_scores(test_scores, truth, thr)
    n_steps = sum(len(s.steps) for s in test + dev)
    secs = time.time() - t0
    if cfg.out:
        write_jsonl(
            cfg.out,
            (
                {"id": s.id, "scores": sc, "predicted": predict_first_error(sc, thr), "label": t}
                for s, sc, t in zip(test, test_scores, truth)
            ),
        )
    summary = {"command": "eval processbench", "prm": cfg.prm, "kind": prm.kind, "data": cfg.data}
    summary |= {k: _clean(v) for k, v in m.items()}
    summary |= {
        "threshold_from": source,
        "n_eval": len(test),
        "n_dev": len(dev),
        "steps_per_s": round(n_steps / max(secs, 1e-9), 1),
        "seconds": round(secs, 2),
    }
    return summary
