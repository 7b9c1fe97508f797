"""Group baselines: GRPO and RLOO advantages, for outcome scores and per-step returns.

Rows come in groups of `n` consecutive samples of the same prompt (B = P * n).

- GRPO (Shao et al. 2024, "DeepSeekMath"): A_i = (x_i - mean(x)) / (std(x) + eps) within
  the group; for process returns, mean and std pool every step of every solution in
  the group (DeepSeekMath's process supervision normalises step rewards the same way).
- RLOO (Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style
  Optimization"; Kool et al. 2019): A_i = x_i - mean_{j != i} x_j. For process returns
  the other samples enter through their per-solution mean return (as PRIME's RLOO does
  with the per-token mean of the implicit reward).
- `token_advantages` combines them: A_t = w_o * A^outcome_b + w_p * A^process_{b, step(t)}.
"""

from __future__ import annotations

import torch

from prmkit.rl.credit import tokens_from_steps


def _groups(x: torch.Tensor, n: int) -> torch.Tensor:
    if n < 1 or x.shape[0] % n:
        raise ValueError(f"batch of {x.shape[0]} rows is not a whole number of groups of {n}")
    return x.reshape(x.shape[0] // n, n, *x.shape[1:])


def grpo_advantages(
    scores: torch.Tensor, n: int, eps: float = 1e-6, scale: bool = True
) -> torch.Tensor:
    """GRPO: (x - group mean) / (group std + eps); std unbiased, as in verl.

    scores: (B,) with B = P * n. scale=False skips the division (Dr. GRPO). Returns (B,).
    A group whose scores are all equal gets 0.
    """
    g = _groups(scores.float(), n)
    mean = g.mean(1, keepdim=True)
    a = g - mean
    if scale and n > 1:
        a = a / (g.std(1, keepdim=True) + eps)
    return a.reshape(-1)


def rloo_advantages(scores: torch.Tensor, n: int) -> torch.Tensor:
    """RLOO: x_i - mean of the other n - 1 samples of the group. scores: (B,). Returns (B,)."""
    if n < 2:
        raise ValueError("RLOO needs at least 2 samples per prompt")
    g = _groups(scores.float(), n)
    others = (g.sum(1, keepdim=True) - g) / (n - 1)
    return (g - others).reshape(-1)


def step_advantages(
    returns: torch.Tensor, mask: torch.Tensor, n: int, method: str = "grpo", eps: float = 1e-6
) -> torch.Tensor:
    """The process part baselined per group.

    returns, mask: (B, K) per-step returns (from `prmkit.rl.credit`) and real steps.
    grpo: (G_bk - mu_g) / (sigma_g + eps), mu and sigma over all real steps of group g.
    rloo: G_bk - mean_{j != b in g} m_j, with m_j the mean return of solution j.
    Returns (B, K), 0 at padding.
    """
    mask = mask.bool()
    G = _groups(torch.where(mask, returns.float(), 0.0), n)  # (P, n, K)
    M = _groups(mask, n)
    if method == "grpo":
        cnt = M.sum((1, 2), keepdim=True).clamp(min=1)
        mu = G.sum((1, 2), keepdim=True) / cnt
        var = (((G - mu) ** 2) * M).sum((1, 2), keepdim=True) / (cnt - 1).clamp(min=1)
        a = (G - mu) / (var.sqrt() + eps)
    elif method == "rloo":
        if n < 2:
            raise ValueError("RLOO needs at least 2 samples per prompt")
        m = G.sum(2) / M.sum(2).clamp(min=1)  # (P, n) mean return per solution
        others = (m.sum(1, keepdim=True) - m) / (n - 1)
        a = G - others[:, :, None]
    else:
        raise ValueError(f"unknown advantage method {method!r}; choose grpo or rloo")
    return torch.where(M, a, 0.0).reshape(returns.shape)


def outcome_advantages(scores: torch.Tensor, n: int, method: str = "grpo") -> torch.Tensor:
    """GRPO or RLOO advantages of one scalar per solution. scores: (B,). Returns (B,)."""
    if method == "grpo":
        return grpo_advantages(scores, n)
    if method == "rloo":
        return rloo_advantages(scores, n)
    raise ValueError(f"unknown advantage method {method!r}; choose grpo or rloo")


def token_advantages(
    token_step: torch.Tensor,
    outcome_adv: torch.Tensor | None = None,
    process_adv: torch.Tensor | None = None,
    w_outcome: float = 1.0,
    w_process: float = 1.0,
) -> torch.Tensor:
    """Token-level advantages: w_o * A^outcome_b + w_p * A^process_{b, step(t)}.

    token_step: (B, T) long, the step of each generated token, -1 at padding.
    outcome_adv: (B,) or None. process_adv: (B, K) or None. Returns (B, T), 0 at padding.
    """
    out = torch.zeros(token_step.shape, dtype=torch.float32)
    real = token_step >= 0
    if outcome_adv is not None and w_outcome:
        out = out + w_outcome * torch.where(real, outcome_adv.float()[:, None], 0.0)
    if process_adv is not None and w_process:
        out = out + w_process * tokens_from_steps(process_adv, token_step)
    return out


def mixed_advantages(
    token_step: torch.Tensor,
    outcome: torch.Tensor,
    returns: torch.Tensor | None,
    step_mask: torch.Tensor,
    n: int,
    method: str = "grpo",
    w_outcome: float = 1.0,
    w_process: float = 1.0,
) -> torch.Tensor:
    """The trainer's token advantages from an outcome and, optionally, per-step returns.

    token_step: (B, T); outcome: (B,); returns, step_mask: (B, K). Without returns it is
    outcome-only at full weight. Returns (B, T).
    """
    a_o = outcome_advantages(outcome, n, method)
    if returns is None:
        return token_advantages(token_step, a_o)
    a_p = step_advantages(returns, step_mask, n, method)
    return token_advantages(token_step, a_o, a_p, w_outcome, w_process)
