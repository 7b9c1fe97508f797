"""Which rollouts a policy update learns from.

- `accuracy_band`: PRIME's online prompt filter (Cui et al. 2025, "Process
  Reinforcement through Implicit Rewards"): keep a prompt only if the fraction of its
  n samples that are correct lies in [low, high]. All-right or all-wrong groups carry
  no outcome signal under a group baseline and mostly add noise.
- `prof_select`: PROF-style consistency filtering (Ye et al. 2025, "Beyond Correctness:
  Harmonizing Process and Outcome Rewards through RL Training", arXiv:2509.03403): from each group keep
  the correct samples whose mean process value is highest and the wrong samples whose
  mean process value is lowest, so that the process and outcome signals agree, in the
  group's own correct:wrong proportion (at least one of each kind when both exist).
"""

from __future__ import annotations

import torch


def accuracy_band(correct: torch.Tensor, low: float = 0.2, high: float = 0.8) -> torch.Tensor:
    """correct: (P, n) bool or 0/1. Returns (P,) bool: group accuracy within [low, high]."""
    acc = correct.float().mean(1)
    return (acc >= low - 1e-9) & (acc <= high + 1e-9)


def prof_select(correct: torch.Tensor, process_mean: torch.Tensor, keep: int) -> torch.Tensor:
    """PROF-style selection of `keep` samples per group.

    correct: (P, n) bool. process_mean: (P, n) the mean PRM value of each sample's
    steps. Returns (P, n) bool with exactly `keep` True per row: the k_c correct
    samples of highest process_mean and the keep - k_c wrong samples of lowest, where
    k_c = round(keep * n_correct / n), moved into [1, keep - 1] when the group has both
    kinds, and capped by how many of each kind there are. Ties keep the earlier sample.
    """
    P, n = correct.shape
    if not 1 <= keep <= n:
        raise ValueError(f"keep must lie in 1..{n}, got {keep}")
    correct = correct.bool()
    out = torch.zeros((P, n), dtype=torch.bool)
    for p in range(P):
        c_idx = torch.nonzero(correct[p]).squeeze(1)
        w_idx = torch.nonzero(~correct[p]).squeeze(1)
        nc, nw = len(c_idx), len(w_idx)
        kc = round(keep * nc / n)
        if nc and nw:
            kc = min(max(kc, 1), keep - 1) if keep > 1 else kc
        kc = min(kc, nc)
        kw = min(keep - kc, nw)
        kc = keep - kw  # fill from the other kind if one runs short
        if kc:
            order = sorted(c_idx.tolist(), key=lambda i: (-float(process_mean[p, i]), i))
            out[p, order[:kc]] = True
        if kw:
            order = sorted(w_idx.tolist(), key=lambda i: (float(process_mean[p, i]), i))
            out[p, order[:kw]] = True
    return out
