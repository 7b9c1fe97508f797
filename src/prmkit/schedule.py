"""The learning-rate schedule every trainer uses: linear warm-up, then cosine decay.

lr(t) = peak * min(1, (t + 1) / W) * (1 + cos(pi t / T)) / 2 for 0-based step t of
T steps with W warm-up steps (Loshchilov and Hutter 2017, "SGDR", with the linear
warm-up of Goyal et al. 2017). Without T (RL, where runs are resumed and extended)
the rate stays at the peak after the warm-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import torch


def warmup_cosine(step: int, peak: float, warmup: int, total: int | None = None) -> float:
    """The learning rate at 0-based `step`: linear warm-up over `warmup` steps, then a
    cosine decay to 0 at `total` steps, or flat at `peak` when `total` is None."""
    lr = peak * min(1.0, (step + 1) / max(1, warmup))
    if total is None:
        return lr
    return lr * 0.5 * (1 + math.cos(math.pi * step / total))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate."""
    for g in opt.param_groups:
        g["lr"] = lr


@dataclass(kw_only=True)
class OptimizerSettings:
    """AdamW under `warmup_cosine`: the settings every supervised trainer shares (policy
    and agent SFT, PRM training). A trainer's settings inherit them, add their own, and
    restate only the defaults they change."""

    RANGES: ClassVar[dict[str, str]] = {
        "steps": ">= 1",
        "lr": "> 0",
        "warmup": ">= 0",
        "weight_decay": ">= 0",
        "seed": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    steps: int = 600
    """optimizer steps"""
    lr: float = 3e-3
    """peak learning rate (linear warm-up, cosine decay)"""
    warmup: int = 30
    """warm-up steps"""
    weight_decay: float = 0.01
    """AdamW weight decay"""
    seed: int = 0
    """random seed"""


def adamw(params: Iterable[torch.nn.Parameter], s: OptimizerSettings) -> torch.optim.AdamW:
    """AdamW at the peak rate with the settings' weight decay and betas (0.9, 0.95)."""
    return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay, betas=(0.9, 0.95))
