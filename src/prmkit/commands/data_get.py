"""Download a public data set (processbench, gsm8k, math) in the layout the commands read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from prmkit.data import InputError
from prmkit.data.download import SOURCES, Offline, get


@dataclass
class Config:
    name: Literal["processbench", "gsm8k", "math"] = field(metadata={"positional": True})
    """data set: processbench (Qwen/ProcessBench: gsm8k, math, olympiadbench, omnimath .json), gsm8k (openai/grade-school-math: train and test .jsonl) or math (MATH-500: test.jsonl)"""
    out: str
    """folder to write the files into (created if missing)"""
    force: bool = False
    """download again files that are already there"""


def run(cfg: Config) -> dict:
    try:
        counts = get(cfg.name, cfg.out, cfg.force)
    except Offline as e:
        raise InputError(str(e)) from None
    except ValueError as e:  # a download that is not the JSON it should be
        raise InputError(
            f"downloaded {cfg.name} file is not valid JSON ({e}); retry with --force", cfg.out
        ) from None
    src = SOURCES[cfg.name]
    return {
        "command": "data get",
        "name": cfg.name,
        "out": cfg.out,
        "files": counts,
        "source": src.page,
        "license": src.license,
    }
