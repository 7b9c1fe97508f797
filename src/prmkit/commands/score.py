"""Score every step of a file of solutions with a PRM, one forward pass per solution."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from prmkit.data import InputError
from prmkit.data.converters import iter_samples, report_skipped
from prmkit.data.jsonl import write_jsonl
from prmkit.prm.options import PRMOptions, rule_world, score_samples
from prmkit.worlds import WORLDS


@dataclass(kw_only=True)
class Config(PRMOptions):
    RANGES: ClassVar[dict[str, str]] = {"max_tokens": ">= 1"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm: str
    """the PRM: rule, local-rule, rule:WORLD, local-rule:WORLD, a trained PRM's directory (prm, orm, implicit-prm, surprise), or a published PRM's folder (or hub id, online): see --prm-format; PRM+rule[:WORLD] puts the checker in front of any of them (each step scores the lower of the two)"""
    in_: str
    """solutions: prmkit samples, TRL, ProcessBench, Math-Shepherd or PRM800K records (detected)"""
    out: str
    """JSONL: each input record unchanged plus its per-step scores (prmkit samples: meta.prm_scores; other formats: prm_scores)"""
    max_tokens: int | None = None
    """padded tokens per forward pass when scoring a model PRM (default: the PRM's own: 16384 for a published PRM; a prmkit PRM on CPU 2048, where small passes run fastest, except an encoder PRM in one process of several threads, 16384; on an accelerator 16384)"""
    world: str = "auto"
    """the world whose checker a rule PRM uses; auto: a sample's meta.world, else arithmetic for arithmetic-world prompts, else gsm8k (free text). A world named in --prm wins"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    progress: bool = True
    """show a progress bar (stderr)"""

    def check(self) -> None:
        if self.world != "auto" and self.world not in WORLDS:
            raise ValueError(f"--world must be auto or one of {sorted(WORLDS)}")


def _pairs(cfg: Config, invalid) -> tuple[list, list]:
    """(output record, sample) pairs; a record holding several samples (one per model)
    gives one prmkit record per sample."""
    records, samples = [], []
    for obj, got in iter_samples(cfg.in_, invalid=invalid):
        records += [obj] if len(got) == 1 else [s.to_dict() for s in got]
        samples += got
    if not samples:
        raise InputError("file has no valid records", cfg.in_)
    return records, samples


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    records, samples = _pairs(cfg, invalid)
    world = rule_world(cfg.prm, cfg.world, samples[0])
    prm = cfg.load(cfg.prm, world or "arithmetic", max_tokens=cfg.max_tokens)
    t0 = time.time()
    scores = score_samples(prm, samples, cfg.in_, "score", cfg.progress)
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
        "world": world,
        "skipped": report_skipped(invalid),
        "steps_per_s": round(n_steps / max(secs, 1e-9), 1),
        "seconds": round(secs, 2),
    }
