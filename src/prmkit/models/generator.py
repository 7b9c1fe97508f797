"""One interface for every policy: built-in GPT, Hugging Face, OpenAI-compatible.

`Generator` states what labeling, search and serving need from a policy, and
`LocalPolicy` what training needs besides (the torch module and its logits). The
built-in GPT (`models.builtin.BuiltinPolicy`) and Hugging Face models
(`models.hf.HFPolicy`) are local policies; an OpenAI-compatible server
(`models.openai_backend.OpenAIGenerator`) is a Generator whose tokenizer is remote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

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
    """What every policy offers. Callers use these members and nothing else."""

    step_sep: str
    """the text that ends a step (and separates the prompt from the first step)"""
    context_length: int | None
    """the most tokens of prompt and generation together; None where it is not known
    here (a remote server says so itself)"""
    device: torch.device
    """where the policy computes (cpu for a remote server)"""

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt text, `params.n` generations, with each sampled token's id and
        log-probability under the policy at temperature 1 where the backend reports them."""
        ...

    def prompt_ids(self, text: str) -> list[int] | None:
        """The token ids the policy conditions on to continue `text` (a BOS token
        included); None where the tokenizer is remote. ValueError for text the
        tokenizer cannot encode."""
        ...

    def decode(self, ids: list[int]) -> str:
        """The text of these tokens, special tokens left out ("" where the tokenizer is remote)."""
        ...

    def token_name(self, token_id: int) -> str:
        """How the vocabulary spells one token (special tokens too; "" where remote)."""
        ...

    def chat_prompt(self, messages: list[dict]) -> str | None:
        """Chat messages as one prompt by the tokenizer's chat template, continuing a
        final assistant message; None where the policy has no chat template."""
        ...


class TextGenerator:
    """The Generator members of a policy that exchanges text only: its tokenizer and
    context length are elsewhere (a remote server), or it has none (a scripted test
    policy). Subclasses add `step_sep` and `generate`."""

    context_length: int | None = None
    device = torch.device("cpu")

    def prompt_ids(self, text: str) -> None:
        return None

    def decode(self, ids: list[int]) -> str:
        return ""

    def token_name(self, token_id: int) -> str:
        return ""

    def chat_prompt(self, messages: list[dict]) -> None:
        return None


class LocalPolicy(Generator, Protocol):
    """A policy whose weights are here: what RL and implicit PRMs train."""

    model: torch.nn.Module
    """the module whose weights are the policy"""
    pad_id: int
    """the id that right-pads a batch of sequences"""

    def encode(self, text: str) -> list[int]:
        """The token ids of `text` on its own, without special tokens."""
        ...

    def logits(
        self, ids: torch.Tensor, attn: torch.Tensor, model: torch.nn.Module | None = None
    ) -> torch.Tensor:
        """(B, L, V) next-token logits for right-padded ids and attention mask (B, L),
        from `model` (a copy of `self.model`, such as a frozen reference) or `self.model`."""
        ...

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        """Write the policy (weights, tokenizer, config with `extra`) to `out_dir`."""
        ...


def continue_steps(
    gen: Generator, items: list[tuple[str, list[str]]], params: SamplingParams
) -> list[list[Generation]]:
    """Continue each (problem prompt, step prefix) pair; the prefix is kept exactly."""
    texts = [render(p, prefix, gen.step_sep) for p, prefix in items]
    return gen.generate(texts, params)
