"""Turn-level credit for multi-turn agents: pure tensor functions.

Shapes follow `prmkit.rl.credit`: B trajectories, K turns (the longest trajectory),
rows left-aligned with `mask` (B, K) True at real turns; rows come in groups of `n`
consecutive trajectories of the same task (B = P * n), as in `prmkit.rl.advantages`.
Every function returns 0 at padding.

| function | what it computes | source |
|---|---|---|
| `gated_returns` | turn rewards count only when the outcome passes a threshold | Sun et al. 2025 (G-RA) |
| `spa_loss`, `spa_rewards` | per-turn contributions that sum to the outcome; reward = a c_t + b g_t | Wang et al. 2025 (SPA-RL) |
| `turn_group_normalize` | a turn signal normalised within (task group, turn index) | Chen et al. 2026 (A^2TGPO) |
| `rescaled_accumulation` | discounted sum of normalised signals / sqrt(terms summed) | Chen et al. 2026 (A^2TGPO) |
| `adaptive_clip_scale` | per-turn PPO clip range factor 1 + beta (2 sigmoid(x) - 1) | Chen et al. 2026 (A^2TGPO) |
| `implicit_turn_rewards`, `trajectory_dpo_loss`, `preference_pairs` | turn rewards beta log pi_phi / pi_old, learned by DPO on outcome pairs | Liu et al. 2025 (OPRL) |

References:
- Z. Sun, D. Li, Z. Chen, Y. Qin, B. Hu, "Stabilizing Long-term Multi-turn
  Reinforcement Learning with Gated Rewards", arXiv:2508.10548, 2025.
- H. Wang, C. T. Leong, J. Wang, J. Wang, W. Li, "SPA-RL: Reinforcing LLM Agents via
  Stepwise Progress Attribution", arXiv:2505.20732, 2025.
- D. Chen et al., "A^2TGPO: Agentic Turn-Group Policy Optimization with Adaptive
  Turn-level Clipping", arXiv:2605.06200, 2026.
- X. Liu et al., "Online Process Reward Learning for Agentic Reinforcement Learning",
  arXiv:2509.19199, 2025.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prmkit.rl.credit import _check, sum_returns

__all__ = [
    "adaptive_clip_scale",
    "gated_returns",
    "implicit_turn_rewards",
    "preference_pairs",
    "rescaled_accumulation",
    "spa_loss",
    "spa_rewards",
    "trajectory_dpo_loss",
    "turn_group_normalize",
]


def gated_returns(
    r: torch.Tensor,
    mask: torch.Tensor,
    outcome: torch.Tensor,
    threshold: float = 1.0,
    gamma: float = 1.0,
) -> torch.Tensor:
    """Gated reward accumulation (G-RA): G_k = 1[o >= threshold] * sum_{i>=k} gamma^(i-k) r_i.

    Immediate (turn) rewards accumulate only when the long-term reward, the outcome o,
    meets the threshold; a failed trajectory earns nothing from them, so a policy cannot
    farm turn rewards (e.g. harmless redundant lookups) without solving the task. The
    outcome itself is added by the caller's mixture, as for every credit method.
    r, mask: (B, K); outcome: (B,). Returns (B, K).
    """
    mask = _check(r, mask)
    gate = (outcome.float() >= threshold).float()[:, None]
    return sum_returns(r, mask, gamma) * gate


def spa_loss(contrib: torch.Tensor, mask: torch.Tensor, outcome: torch.Tensor) -> torch.Tensor:
    """SPA-RL's progress-estimator objective: mean over trajectories of (sum_t c_t - R)^2.

    The estimator predicts a contribution c_t per turn; trained so that the
    contributions of a trajectory add up to its final reward R, each c_t becomes the
    turn's share of the outcome. contrib, mask: (B, K); outcome: (B,). Returns a scalar.
    """
    mask = _check(contrib, mask)
    total = torch.where(mask, contrib.float(), 0.0).sum(1)
    return ((total - outcome.float()) ** 2).mean()


def spa_rewards(
    contrib: torch.Tensor,
    mask: torch.Tensor,
    grounded: torch.Tensor | None = None,
    alpha: float = 1.0,
    beta: float = 0.0,
) -> torch.Tensor:
    """SPA-RL's turn reward: r_t = alpha * c_t + beta * g_t.

    c_t is the estimated contribution of turn t (see `spa_loss`); g_t is the grounding
    signal, 1 when the turn's action was executable in the environment (a known tool
    with well-formed arguments), else 0. contrib, mask, grounded: (B, K). Returns (B, K).
    """
    mask = _check(contrib, mask)
    r = alpha * contrib.float()
    if grounded is not None and beta:
        r = r + beta * grounded.float()
    return torch.where(mask, r, 0.0)


def turn_group_normalize(
    x: torch.Tensor, mask: torch.Tensor, n: int, eps: float = 1e-6
) -> torch.Tensor:
    """A^2TGPO's turn-group normalisation of a per-turn signal.

    x_hat[b, t] = (x[b, t] - mean_t) / (std_t + eps), where mean and std pool turn t of
    every trajectory in b's group that has a turn t: a turn is compared only with turns
    at the same depth of the same task. std is unbiased; a (group, turn) cell with one
    member, or whose members are all equal, gets 0. x, mask: (B, K) with B = P * n. Returns (B, K).
    """
    mask = _check(x, mask)
    if n < 1 or x.shape[0] % n:
        raise ValueError(f"batch of {x.shape[0]} rows is not a whole number of groups of {n}")
    X = torch.where(mask, x.float(), 0.0).reshape(-1, n, x.shape[1])  # (P, n, K)
    M = mask.reshape(-1, n, x.shape[1]).float()
    cnt = M.sum(1, keepdim=True)
    mean = X.sum(1, keepdim=True) / cnt.clamp(min=1)
    var = (((X - mean) ** 2) * M).sum(1, keepdim=True) / (cnt - 1).clamp(min=1)
    # a cell with one member or no spread carries no comparison: 0, never 0/0
    ok = (cnt > 1) & (var > 0) & (M > 0)
    out = torch.where(ok, (X - mean) / (var.sqrt() + eps), 0.0)
    return out.reshape(x.shape)


def rescaled_accumulation(
    x_hat: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0
) -> torch.Tensor:
    """A^2TGPO's variance-rescaled discounted accumulation.

    G_k = (sum_{i=k}^{n-1} gamma^(i-k) x_hat_i) / sqrt(n - k): a sum of m roughly
    unit-variance terms has standard deviation about sqrt(m), so dividing by it keeps
    early turns (many terms) and late turns (few) on one scale.
    x_hat, mask: (B, K). Returns (B, K).
    """
    mask = _check(x_hat, mask)
    acc = sum_returns(x_hat, mask, gamma)
    n = mask.sum(1, keepdim=True)
    terms = (n - torch.arange(mask.shape[1], device=mask.device)[None, :]).clamp(min=1)
    return torch.where(mask, acc / terms.float().sqrt(), 0.0)


def adaptive_clip_scale(x_hat: torch.Tensor, beta: float = 0.3) -> torch.Tensor:
    """A^2TGPO's adaptive turn-level clipping factor: c = 1 + beta * (2 sigmoid(x_hat) - 1).

    A turn's PPO clip range eps becomes c * eps: wider for turns with a high normalised
    signal, narrower for low ones, always within (1 - beta, 1 + beta) of the base.
    Any shape; returns the same shape.
    """
    return 1.0 + beta * (2.0 * torch.sigmoid(x_hat.float()) - 1.0)


def implicit_turn_rewards(
    logp_phi: torch.Tensor, logp_old: torch.Tensor, mask: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """OPRL's implicit turn reward: r_t = beta * (log pi_phi(a_t | h_t) - log pi_old(a_t | h_t)).

    logp_phi, logp_old: (B, K), the summed log-probabilities of each turn's action tokens
    (observation tokens excluded) under the PRM and under the previous policy. Returns (B, K).
    """
    mask = _check(logp_phi, mask)
    return torch.where(mask, beta * (logp_phi.float() - logp_old.float()), 0.0)


def preference_pairs(outcome: torch.Tensor, n: int) -> torch.Tensor:
    """Every (preferred, rejected) pair of rows within a group whose outcomes differ.

    outcome: (B,) with B = P * n. Returns (M, 2) long row indices, the preferred first.
    """
    if n < 1 or outcome.shape[0] % n:
        raise ValueError(f"batch of {outcome.shape[0]} rows is not a whole number of groups of {n}")
    o = outcome.float().reshape(-1, n)
    g, i, j = torch.nonzero(o[:, :, None] > o[:, None, :], as_tuple=True)
    return torch.stack([g * n + i, g * n + j], dim=1)


def trajectory_dpo_loss(
    turn_rewards: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor
) -> torch.Tensor:
    """OPRL's trajectory-level DPO objective on implicit turn rewards.

    L = -mean over pairs of log sigmoid(sum_t r_t(tau+) - sum_t r_t(tau-)), with r_t from
    `implicit_turn_rewards` (beta already applied). turn_rewards, mask: (B, K);
    pairs: (M, 2) from `preference_pairs`. Returns a scalar (0 when there are no pairs).
    """
    mask = _check(turn_rewards, mask)
    if pairs.numel() == 0:
        return turn_rewards.sum() * 0.0
    total = torch.where(mask, turn_rewards, 0.0).sum(1)
    margin = total[pairs[:, 0]] - total[pairs[:, 1]]
    return -F.logsigmoid(margin).mean()
