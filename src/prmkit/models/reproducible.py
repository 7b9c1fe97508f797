"""Training that gives the same weights at any CPU thread count.

On CPU, torch splits a few reductions by thread count, so the float sums land in a
different order with 1 and 2 threads: the LayerNorm backward's weight and bias
gradients (a fused kernel) and whole-tensor norms (gradient clipping). Everything else
the built-in GPT uses (matmuls, attention, embeddings, AdamW) gave bitwise equal
results at 1 and 2 threads with torch 2.13 (MKL, oneDNN). Over a few hundred steps
the last-bit differences grow into a different policy (docs/policy.md). The two
replacements below remove them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm (same parameters and state dict) with a thread-invariant backward.

    The affine part is written as `x_hat * weight + bias`, so autograd reduces its
    gradients with a per-column sum, which torch parallelises over columns, not rows.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, self.normalized_shape, None, None, self.eps)
        return y * self.weight + self.bias if self.weight is not None else y


def clip_grad_norm_(params: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_, computed on one thread so the sum order is fixed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    finally:
        torch.set_num_threads(threads)
