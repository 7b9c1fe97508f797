"""SFT of the built-in GPT as a tool-use agent, on expert trajectories with mistakes.

Each example is a question's trajectory: the expert's shortest solution, or with
probability `mistake_rate` one controlled mistake (wrong entity, wrong relation,
calculation slip, early answer: `toolqa.corrupt`), and with probability `noop_rate`
one redundant lookup. The loss covers the actions only (`data.turns.loss_mask`):
observations are context, never policy output.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from prmkit.data.turns import loss_mask, render_turns, split_step
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.schedule import set_lr, warmup_cosine
from prmkit.worlds import toolqa


@dataclass
class AgentSFTSettings:
    """What one agent SFT run does; `prmkit agent train`'s Config adds the model and files."""

    steps: int = 600
    """optimizer steps"""
    batch_size: int = 32
    """trajectories per step"""
    lr: float = 3e-3
    """peak learning rate (linear warm-up, cosine decay)"""
    warmup: int = 30
    """warm-up steps"""
    weight_decay: float = 0.01
    """AdamW weight decay"""
    mistake_rate: float = 0.3
    """fraction of training trajectories with one controlled mistake"""
    noop_rate: float = 0.05
    """fraction of training trajectories with a redundant lookup"""
    seed: int = 0
    """random seed"""


def expert_trajectory(
    prompt: str, rng: random.Random, mistake_rate: float, noop_rate: float
) -> list[str]:
    if rng.random() < mistake_rate:
        steps, _ = toolqa.corrupt(prompt, rng)
    else:
        steps = toolqa.solve(prompt)
    if rng.random() < noop_rate:
        steps = toolqa.add_noop(prompt, steps, rng)
    return steps


def encode_trajectory(tok: CharTokenizer, prompt: str, steps: list[str]):
    """(ids, mask): BOS + rendered trajectory; mask True on the policy's characters."""
    text, spans = render_turns(prompt, [split_step(s) for s in steps])
    mask = loss_mask([(i, i + 1) for i in range(len(text))], spans)
    return [tok.bos_id] + tok.encode(text), [False] + mask


def masked_batch(examples: list[tuple[list[int], list[bool]]], pad_id: int):
    """(B, T) inputs and (B, T) targets, -100 wherever the target is not the policy's."""
    T = max(len(ids) for ids, _ in examples) - 1
    x = torch.full((len(examples), T), pad_id, dtype=torch.long)
    y = torch.full((len(examples), T), -100, dtype=torch.long)
    for i, (ids, mask) in enumerate(examples):
        t, m = torch.tensor(ids), torch.tensor(mask)
        x[i, : len(ids) - 1] = t[:-1]
        y[i, : len(ids) - 1] = torch.where(m[1:], t[1:], torch.full_like(t[1:], -100))
    return x, y


def train_agent_policy(
    prompts: list[str], cfg: GPTConfig, s: AgentSFTSettings, progress: bool = True
) -> tuple[BuiltinPolicy, dict]:
    """Train a fresh agent policy; returns it and a log (first/last loss, seconds)."""
    torch.manual_seed(s.seed)
    rng = random.Random(s.seed)
    policy = BuiltinPolicy.new(cfg)
    model, tok = policy.model, policy.tok
    opt = torch.optim.AdamW(
        model.parameters(), lr=s.lr, weight_decay=s.weight_decay, betas=(0.9, 0.95)
    )
    model.train()
    losses, t0 = [], time.time()
    bar = tqdm(range(s.steps), desc="agent sft", disable=not progress, leave=False)
    for step in bar:
        set_lr(opt, warmup_cosine(step, s.lr, s.warmup, s.steps))
        ex = []
        for p in (rng.choice(prompts) for _ in range(s.batch_size)):
            ids, mask = encode_trajectory(
                tok, p, expert_trajectory(p, rng, s.mistake_rate, s.noop_rate)
            )
            ex.append((ids[: cfg.block_size + 1], mask[: cfg.block_size + 1]))
        x, y = masked_batch(ex, tok.pad_id)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    k = max(1, len(losses) // 20)
    log = {
        "loss_first": sum(losses[:k]) / k,
        "loss_last": sum(losses[-k:]) / k,
        "steps": s.steps,
        "seconds": round(time.time() - t0, 1),
        "n_params": model.n_params(),
    }
    return policy, log
