"""Score every step of a file of solutions with a PRM, one forward pass per solution."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prmkit.data import InputError
from prmkit.data.converters import iter_records, read_samples
from prmkit.data.jsonl import write_jsonl
from prmkit.prm.scoring import load_prm


@dataclass
class Config:
    prm: str
    """the PRM: a checkpoint directory (prm, orm, implicit-prm) or 'rule'"""
    in_: str
    """solutions: prmkit samples, TRL, ProcessBench, Math-Shepherd or PRM800K records (detected)"""
    out: str
    """JSONL: each input record unchanged plus its per-step scores (prmkit samples: meta.prm_scores; other formats: prm_scores)"""
    max_tokens: int = 16384
    """padded tokens per forward pass"""


def run(cfg: Config) -> dict:
    samples = read_samples(cfg.in_)
    records = [obj for _, obj in iter_records(cfg.in_)]
    prm = load_prm(cfg.prm, max_tokens=cfg.max_tokens)
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
