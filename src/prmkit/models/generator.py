"""One interface for every policy: built-in GPT, Hugging Face, OpenAI-compatible.

Labeling, search, RL and serving only ever call `generate` or `continue_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from prmkit.models.steps import render


@dataclass
class Generation:
    """One sampled continuation.

    text: the generated text only (not the prompt). steps: text split into steps.
    token_ids / logprobs: the generated tokens and their log-probabilities under the
    policy at temperature 1 (what RL and implicit rewards need), one per token.
    finished: the policy ended the solution (end-of-sequence), rather than stopping at
    a step boundary or running out of tokens.
    """

    text: str
    steps: list[str]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finished: bool = False


@dataclass
class SamplingParams:
    n: int = 1
    """samples per prompt"""
    max_new_tokens: int = 96
    """most tokens generated per sample"""
    temperature: float = 1.0
    """softmax temperature; 0 means greedy"""
    top_p: float = 1.0
    """nucleus sampling mass"""
    stop_at_step: bool = False
    """stop after one step instead of at the end of the solution"""
    seed: int | None = None
    """seed for this call; the same seed gives the same samples"""
    seeds: list[int] | None = None
    """one seed per prompt (overrides `seed`): a prompt's samples then depend only on its
    own text and seed, not on the other prompts in the call (resumable, shardable runs)"""


class Generator(Protocol):
    step_sep: str

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt text, `params.n` generations."""
        ...


def continue_steps(
    gen: Generator, items: list[tuple[str, list[str]]], params: SamplingParams
) -> list[list[Generation]]:
    """Continue each (problem prompt, step prefix) pair; the prefix is kept exactly."""
    texts = [render(p, prefix, gen.step_sep) for p, prefix in items]
    return gen.generate(texts, params)
