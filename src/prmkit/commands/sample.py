"""Sample n solutions per problem from a policy and grade each one exactly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from tqdm import tqdm

from prmkit.data import InputError, Problem, read_jsonl, write_jsonl
from prmkit.data.converters import report_skipped
from prmkit.grade import graded_sample
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.load import load_generator
from prmkit.worlds import WORLDS


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
    max_new_tokens: int = 96
    """most tokens per solution"""
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


def sample_problems(
    policy,
    problems: list[Problem],
    params: SamplingParams,
    world: str,
    chunk: int = 64,
    progress: bool = True,
) -> tuple[list, int]:
    """Graded samples for every problem, and the number of tokens generated."""
    samples, tokens = [], 0
    bar = tqdm(
        total=len(problems), desc="sampling", unit="problem", disable=not progress, leave=False
    )
    for s in range(0, len(problems), chunk):
        part = problems[s : s + chunk]
        call = SamplingParams(
            **{**params.__dict__, "seed": None if params.seed is None else params.seed + s}
        )
        gens = continue_steps(policy, [(p.prompt, []) for p in part], call)
        for p, gs in zip(part, gens):
            for j, g in enumerate(gs):
                tokens += len(g.token_ids)
                samples.append(
                    graded_sample(
                        p,
                        g.steps,
                        f"{p.id}-s{j}",
                        world,
                        {"finished": g.finished, "n_tokens": len(g.token_ids)},
                    )
                )
        bar.update(len(part))
    bar.close()
    return samples, tokens


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    problems = read_jsonl(cfg.problems, Problem.from_dict, invalid)
    skipped = report_skipped(invalid)
    policy = load_generator(cfg.policy)
    params = SamplingParams(cfg.n, cfg.max_new_tokens, cfg.temperature, cfg.top_p, seed=cfg.seed)
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
        "seconds": round(time.time() - t0, 2),
    }
