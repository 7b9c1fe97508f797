"""Convert PRM data between formats: prmkit, trl, processbench, math-shepherd, prm800k, gsm8k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prmkit.data.converters import read_samples, report_skipped, write_samples


@dataclass
class Config:
    to: Literal["prmkit", "trl", "processbench", "math-shepherd"]
    """output format"""
    in_: str
    """input file (JSONL, or a JSON list for ProcessBench)"""
    out: str
    """output file (ProcessBench to a .json path writes the official JSON list; gsm8k's model-solution layout gives one sample per model)"""
    from_: Literal["auto", "prmkit", "trl", "processbench", "prm800k", "math-shepherd", "gsm8k"] = (
        "auto"
    )
    """input format (auto: detected from the first record)"""
    neutral: Literal["positive", "negative"] = "positive"
    """PRM800K: how a neutral (0) rating counts"""
    skip_invalid: bool = False
    """skip malformed records (each named on stderr) and count them, instead of stopping at the first"""


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    samples = read_samples(cfg.in_, cfg.from_, cfg.neutral, invalid)
    report_skipped(invalid)
    n = write_samples(cfg.out, samples, cfg.to)
    first_errors = [
        s.labels.first_error if s.labels is not None else s.first_error for s in samples
    ]
    wrong = sum(1 for fe in first_errors if fe is not None and fe >= 0)
    return {
        "command": "convert",
        "from": cfg.from_,
        "to": cfg.to,
        "in": cfg.in_,
        "out": cfg.out,
        "records": n,
        "steps": sum(len(s.steps) for s in samples),
        "with_error": wrong,
        "skipped": len(invalid or []),
    }
