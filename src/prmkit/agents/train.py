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
from typing import ClassVar

import torch
from tqdm import tqdm

from prmkit.data.turns import loss_mask, render_turns, split_step
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.policy_train import make_solution, sft_log, sft_update
from prmkit.models.tokenizer import CharTokenizer
from prmkit.schedule import OptimizerSettings, adamw, set_lr, warmup_cosine
from prmkit.worlds import toolqa


@dataclass(kw_only=True)
class AgentSFTSettings(OptimizerSettings):
    """What one agent SFT run does (the optimizer's settings and the mix of trajectories);
    `prmkit agent train`'s Config adds the model and files."""

    RANGES: ClassVar[dict[str, str]] = {
        "batch_size": ">= 1",
        "mistake_rate": "[0, 1]",
        "noop_rate": "[0, 1]",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    batch_size: int = 32
    """trajectories per step"""
    mistake_rate: float = 0.3
    """fraction of training trajectories with one controlled mistake"""
    noop_rate: float = 0.05
    """fraction of training trajectories with a redundant lookup"""


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
    prompts: list[str],
    cfg: GPTConfig,
    s: AgentSFTSettings,
    progress: bool = True,
    init: BuiltinPolicy | None = None,
) -> tuple[BuiltinPolicy, dict]:
    """Train an agent policy, fresh of shape `cfg` or continuing `init` (whose shape
    wins); returns it and a log (first/last loss, seconds)."""
    torch.manual_seed(s.seed)
    rng = random.Random(s.seed)
    policy = init or BuiltinPolicy.new(cfg)
    model, tok = policy.model, policy.tok
    cfg = model.cfg
    opt = adamw(model.parameters(), s)
    model.train()
    losses, t0 = [], time.time()
    bar = tqdm(range(s.steps), desc="agent sft", disable=not progress, leave=False)
    for step in bar:
        set_lr(opt, warmup_cosine(step, s.lr, s.warmup, s.steps))
        ex = []
        for p in (rng.choice(prompts) for _ in range(s.batch_size)):
            steps = make_solution(p, rng, s.mistake_rate, s.noop_rate, toolqa)
            ids, mask = encode_trajectory(tok, p, steps)
            ex.append((ids[: cfg.block_size + 1], mask[: cfg.block_size + 1]))
        loss = sft_update(model, opt, *masked_batch(ex, tok.pad_id))
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return policy, sft_log(losses, s.steps, time.time() - t0, model.n_params())
