"""Rollouts for RL: one adapter over built-in and Hugging Face policies, step boundaries
from generated token ids, and per-token log-probabilities with gradients.

Sampling goes through the policy's own `generate` (KV cache, per-token log-probs);
training needs a differentiable forward over prompt + generation, which
`PolicyAdapter.logits` provides for both backends with the same call.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch

from prmkit.models.generator import Generation, LocalPolicy
from prmkit.models.steps import STEP_SEP, render


class PolicyAdapter:
    """The RL view of a `LocalPolicy` (built-in or Hugging Face alike): its module,
    copies of it, token texts (cached) and logits from any copy.

    prompt_ids(text): the ids the policy conditions on when it generates after `text`.
    piece(id): the text of one token on its own (special tokens give "").
    logits(model, ids, attn): (B, L, V) for right-padded (B, L) ids.
    """

    def __init__(self, policy: LocalPolicy) -> None:
        self.policy = policy
        self.model = policy.model
        self.step_sep = policy.step_sep
        self.pad_id = policy.pad_id
        self.max_len = policy.context_length
        self._pieces: dict[int, str] = {}

    def prompt_ids(self, text: str) -> list[int]:
        return self.policy.prompt_ids(text)

    def piece(self, token_id: int) -> str:
        if token_id not in self._pieces:
            self._pieces[token_id] = self.policy.decode([token_id])
        return self._pieces[token_id]

    def logits(self, model: torch.nn.Module, ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        return self.policy.logits(ids, attn, model)

    def frozen_copy(self) -> torch.nn.Module:
        ref = copy.deepcopy(self.model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def trainable_copy(self) -> torch.nn.Module:
        m = copy.deepcopy(self.model).eval()
        for p in m.parameters():
            p.requires_grad_(True)
        return m

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        return self.policy.save(out_dir, extra)


def token_steps(pieces: list[str], sep: str = STEP_SEP) -> tuple[list[int], list[str]]:
    """Which step each generated token belongs to, and the steps' texts.

    pieces: the text of each generated token. A step starts at its first character
    that is neither whitespace nor the separator and ends at the separator; the steps
    equal `split_steps(''.join(pieces))` for a one-character separator. A token belongs
    to the step its first such character starts or continues; a token with none
    (a separator, spaces, end-of-sequence) belongs to the step it follows, or to step
    0 before any step. With no step at all, every token is in step 0 and the one step
    is "". A separator of several characters splits at each of them. Returns (step
    index per token, step texts).
    """
    steps: list[str] = []
    cur: list[str] = []
    in_step = False
    idx: list[int] = []
    for p in pieces:
        first: int | None = None
        for ch in p:
            if ch in sep:
                if in_step:
                    steps.append("".join(cur).strip())
                    cur = []
                in_step = False
                continue
            if not in_step and not ch.isspace():
                in_step = True
            if in_step:
                cur.append(ch)
                if first is None:
                    first = len(steps)
        idx.append(first if first is not None else max(len(steps) - (0 if in_step else 1), 0))
    if in_step:
        steps.append("".join(cur).strip())
    if not steps:
        return [0] * len(pieces), [""]
    return idx, steps


@dataclass
class Rollout:
    """One sampled solution, graded, with its tokens mapped to steps."""

    prompt: str
    answer: str
    gen: Generation
    steps: list[str]
    token_step: list[int]
    correct: bool
    status: list[str] = field(default_factory=list)

    @property
    def n_noop(self) -> int:
        return sum(s == "noop" for s in self.status)

    @property
    def n_repeat(self) -> int:
        """Steps that repeat an earlier step of the same solution word for word."""
        return sum(s in self.steps[:i] for i, s in enumerate(self.steps))

    @property
    def n_wasted(self) -> int:
        """Steps that are no-ops or repeats (counted once)."""
        return sum(
            st == "noop" or s in self.steps[:i]
            for i, (s, st) in enumerate(zip(self.steps, self.status))
        )


def make_rollouts(
    adapter: PolicyAdapter, problems: list, gens: list[list[Generation]], world
) -> list[Rollout]:
    """Grade every generation exactly and map its tokens to steps. Flat, problem-major."""
    out = []
    for p, gs in zip(problems, gens):
        for g in gs:
            tstep, steps = token_steps([adapter.piece(t) for t in g.token_ids], adapter.step_sep)
            grade = world.grade(p.prompt, p.answer, steps)
            out.append(Rollout(p.prompt, p.answer, g, steps, tstep, grade.correct, grade.status))
    return out


@dataclass
class Batch:
    """Right-padded tensors for a list of rollouts.

    ids, attn: (B, L) prompt + generation. gen_pos: (B, T) the position in ids of each
    generated token (0 at padding). token_mask: (B, T) bool. token_step: (B, T) long,
    -1 at padding. step_mask: (B, K) bool.
    """

    ids: torch.Tensor
    attn: torch.Tensor
    gen_pos: torch.Tensor
    gen_ids: torch.Tensor
    token_mask: torch.Tensor
    token_step: torch.Tensor
    step_mask: torch.Tensor


def pack_batch(
    seqs: list[list[int]],
    gen_pos: list[list[int]],
    token_step: list[list[int]],
    n_steps: list[int],
    K: int,
    pad_id: int,
) -> Batch:
    """A right-padded Batch from each row's ids, the positions in them of its generated
    (policy) tokens, each such token's step, and the row's step count; gen_ids are the
    ids at those positions."""
    B, L = len(seqs), max(len(s) for s in seqs)
    T = max(1, max(len(g) for g in gen_pos))
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    attn = torch.zeros((B, L), dtype=torch.bool)
    pos = torch.zeros((B, T), dtype=torch.long)
    token_mask = torch.zeros((B, T), dtype=torch.bool)
    step_of = torch.full((B, T), -1, dtype=torch.long)
    step_mask = torch.zeros((B, K), dtype=torch.bool)
    for b, (s, g, k) in enumerate(zip(seqs, gen_pos, token_step)):
        ids[b, : len(s)] = torch.tensor(s)
        attn[b, : len(s)] = True
        if g:
            pos[b, : len(g)] = torch.tensor(g)
            step_of[b, : len(g)] = torch.tensor(k)
            token_mask[b, : len(g)] = True
        step_mask[b, : n_steps[b]] = True
    gen_ids = torch.where(token_mask, ids.gather(1, pos), 0)
    return Batch(ids, attn, pos, gen_ids, token_mask, step_of, step_mask)


def make_batch(adapter: PolicyAdapter, rollouts: list[Rollout]) -> Batch:
    prompts = {}
    seqs, gen_pos = [], []
    for r in rollouts:
        if r.prompt not in prompts:
            prompts[r.prompt] = adapter.prompt_ids(render(r.prompt, (), adapter.step_sep))
        p = prompts[r.prompt]
        seqs.append(p + list(r.gen.token_ids))
        gen_pos.append(list(range(len(p), len(p) + len(r.gen.token_ids))))
    n_steps = [len(r.steps) for r in rollouts]
    token_step = [list(r.token_step) for r in rollouts]
    return pack_batch(seqs, gen_pos, token_step, n_steps, max(n_steps), adapter.pad_id)


def token_logprobs(
    adapter: PolicyAdapter, model: torch.nn.Module, batch: Batch, with_entropy: bool = False
):
    """Log-probabilities (B, T) of the generated tokens under `model` (0 at padding),
    and, with_entropy, the per-token entropy (B, T) of its next-token distribution."""
    logits = adapter.logits(model, batch.ids, batch.attn).float()
    V = logits.shape[-1]
    pred = (batch.gen_pos - 1).clamp(min=0)  # logits at position j - 1 predict token j
    lg = logits.gather(1, pred[:, :, None].expand(-1, -1, V))  # (B, T, V)
    logp_all = lg.log_softmax(-1)
    logp = logp_all.gather(2, batch.gen_ids[:, :, None]).squeeze(2)
    logp = torch.where(batch.token_mask, logp, 0.0)
    if not with_entropy:
        return logp
    ent = -(logp_all.exp() * logp_all).sum(-1)
    return logp, torch.where(batch.token_mask, ent, 0.0)
