"""Score every step of a file of solutions with a PRM, one forward pass per solution."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from prmkit.data import InputError
from prmkit.data.converters import iter_records, read_samples
from prmkit.data.jsonl import write_jsonl
from prmkit.prm.base import PRMFormat
from prmkit.prm.scoring import load_prm


@dataclass
class Config:
    prm: str
    """the PRM: a checkpoint directory (prm, orm, implicit-prm), 'rule', or a published PRM's folder (or hub id, online): see --prm-format"""
    in_: str
    """solutions: prmkit samples, TRL, ProcessBench, Math-Shepherd or PRM800K records (detected)"""
    out: str
    """JSONL: each input record unchanged plus its per-step scores (prmkit samples: meta.prm_scores; other formats: prm_scores)"""
    max_tokens: int = 16384
    """padded tokens per forward pass"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    batch_size: int | None = None
    """most solutions per forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""


def run(cfg: Config) -> dict:
    samples = read_samples(cfg.in_)
    records = [obj for _, obj in iter_records(cfg.in_)]
    prm = load_prm(
        cfg.prm, cfg.prm_format, cfg.device, cfg.dtype, cfg.batch_size, max_tokens=cfg.max_tokens
    )
    t0 = time.time()
    try:
        scores = prm.score([(s.prompt, s.steps) for s in samples])
    except ValueError as e:
        raise InputError(str(e), cfg.in_) from None
    secs = time.time() - t0
    out = []
    for rec, sc in zip(records, scores):
        rec = dict(rec)
        if "problem_id" in rec:  # a prmkit sample keeps every field it knows in place
            rec["meta"] = {**(rec.get("meta") or {}), "prm_scores": sc, "prm": cfg.prm}
        else:
            rec["prm_scores"] = sc
        out.append(rec)
    write_jsonl(cfg.out, out)
    n_steps = sum(len(s) for s in scores)
    return {
        "command": "score",
        "prm": cfg.prm,
        "kind": prm.kind,
        "out": cfg.out,
        "solutions": len(out),
        "steps": n_steps,
        "steps_per_s": round(n_steps / max(secs, 1e-9), 1),
        "seconds": round(secs, 2),
    }
