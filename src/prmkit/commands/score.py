"""Score every step of a file of solutions with a PRM, one forward pass per solution."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.data import InputError
from prmkit.data.converters import iter_samples, report_skipped
from prmkit.data.jsonl import write_jsonl
from prmkit.prm.base import RULE_PRMS, PRMFormat, load_scorer, score_in_chunks
from prmkit.worlds import WORLDS, guess_world


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {
        "max_tokens": ">= 1",
        "batch_size": ">= 1",
        "critic_samples": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm: str
    """the PRM: rule, local-rule, rule:WORLD, local-rule:WORLD, a trained PRM's directory (prm, orm, implicit-prm), or a published PRM's folder (or hub id, online): see --prm-format"""
    in_: str
    """solutions: prmkit samples, TRL, ProcessBench, Math-Shepherd or PRM800K records (detected)"""
    out: str
    """JSONL: each input record unchanged plus its per-step scores (prmkit samples: meta.prm_scores; other formats: prm_scores)"""
    max_tokens: int = 16384
    """padded tokens per forward pass"""
    world: str = "auto"
    """the world whose checker a rule PRM uses; auto: a sample's meta.world, else arithmetic for arithmetic-world prompts, else gsm8k (free text). A world named in --prm wins"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    progress: bool = True
    """show a progress bar (stderr)"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    batch_size: int | None = None
    """most solutions per forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""
    critic_model: str | None = None
    """--prm critic:URL: the served model's name (default: the first the endpoint lists at /models)"""
    critic_samples: int | None = None
    """--prm critic:URL: critiques per solution, majority-voted (default 1, at temperature 0)"""

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
    rule = cfg.prm.partition(":")[0] in RULE_PRMS
    if cfg.world != "auto" and not rule:
        raise InputError("--world sets a rule PRM's checker; this PRM is not one", cfg.prm)
    world = None
    if rule:
        guessed = guess_world(samples[0].prompt, samples[0].meta)
        world = cfg.prm.partition(":")[2] or (cfg.world if cfg.world != "auto" else guessed)
    prm = load_scorer(
        cfg.prm,
        world or "arithmetic",
        cfg.prm_format,
        cfg.device,
        cfg.dtype,
        cfg.batch_size,
        max_tokens=cfg.max_tokens,
        critic_model=cfg.critic_model,
        critic_samples=cfg.critic_samples,
    )
    t0 = time.time()
    try:
        items = [(s.prompt, s.steps) for s in samples]
        scores = score_in_chunks(prm, items, "score", cfg.progress)
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
        "world": world,
        "skipped": report_skipped(invalid),
        "steps_per_s": round(n_steps / max(secs, 1e-9), 1),
        "seconds": round(secs, 2),
    }
