"""Sample n solutions per problem from a policy and grade each one exactly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from prmkit.data import InputError, Problem, read_jsonl, write_jsonl
from prmkit.data.converters import report_skipped
from prmkit.grade import sample_problems
from prmkit.models.generator import SamplingParams
from prmkit.models.load import load_generator
from prmkit.worlds import WORLDS, token_budget


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {
        "n": ">= 1",
        "seed": ">= 0",
        "max_new_tokens": ">= 1",
        "temperature": ">= 0",
        "top_p": "(0, 1]",
        "chunk": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    policy: str
    """policy: a prmkit checkpoint directory or a local Hugging Face model folder"""
    problems: str
    """problems (JSONL: id, prompt, answer)"""
    out: str
    """where to write graded samples (JSONL)"""
    n: int = 4
    """samples per problem"""
    seed: int = 0
    """random seed: the same seed gives the same samples"""
    max_new_tokens: int | None = None
    """most policy tokens per solution (default: the world's, 96; toolqa 256, an episode's actions)"""
    temperature: float = 1.0
    """sampling temperature (0 = greedy)"""
    top_p: float = 1.0
    """nucleus sampling mass"""
    world: str = "arithmetic"
    """world whose grader checks the samples"""
    chunk: int = 64
    """problems per generation call (the progress bar advances per chunk)"""
    skip_invalid: bool = False
    """skip malformed problems (named on stderr, counted in the summary) instead of stopping at the first"""
    progress: bool = True
    """show a progress bar"""

    def check(self) -> None:
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {sorted(WORLDS)}")


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    problems = read_jsonl(cfg.problems, Problem.from_dict, invalid)
    skipped = report_skipped(invalid)
    policy = load_generator(cfg.policy)
    max_new = token_budget(cfg.world, cfg.max_new_tokens)  # None: the world's
    params = SamplingParams(cfg.n, max_new, cfg.temperature, cfg.top_p, seed=cfg.seed)
    t0 = time.time()
    try:
        samples, tokens = sample_problems(
            policy, problems, params, cfg.world, cfg.chunk, cfg.progress
        )
    except ValueError as e:  # e.g. a prompt the built-in tokenizer cannot encode
        raise InputError(str(e), cfg.problems) from None
    write_jsonl(cfg.out, samples)
    wrong = [s for s in samples if not s.correct]
    return {
        "command": "sample",
        "out": cfg.out,
        "problems": len(problems),
        "skipped": skipped,
        "samples": len(samples),
        "accuracy": round(1 - len(wrong) / len(samples), 4),
        "tokens": tokens,
        "max_new_tokens": max_new,
        "seconds": round(time.time() - t0, 2),
    }
