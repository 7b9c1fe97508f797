"""Credit assignment: from step rewards to per-step returns to token-level values.

Pure tensor functions. Shapes: B solutions, K steps (the longest solution in the
batch), T generated tokens.

- `r`: (B, K) float step rewards (e.g. a PRM's per-step probabilities).
- `mask`: (B, K) bool, True at real steps. Steps are left-aligned: row b has its
  n_b real steps first, then padding. Every function returns 0 at padding.
- `token_step`: (B, T) long, the step each generated token belongs to, -1 at padding.

A step's *return* G_k is the quantity that every token of step k is credited with
(before the per-group baseline of `prmkit.rl.advantages`). The methods:

| name      | return of step k                                        | source                    |
|-----------|---------------------------------------------------------|---------------------------|
| outcome   | G_k = o (the verifier's 0/1 for the whole solution)     | GRPO / RLOO               |
| sum       | G_k = sum_{i>=k} gamma^(i-k) r_i                        | discounted sum (the naive) |
| min       | G_k = min_{i>=k} r_i                                    | PURE, Cheng et al. 2025   |
| softmin   | G_k = sum_{i>=k} w_i r_i, w = softmax(-r / T)           | PURE's implementation     |
| clip      | G_k = sum_{i>=k} gamma^(i-k) min(r_i - eta, 0)          | Gao et al. 2024           |
| delta     | G_k = sum_{i>=k} (r_i - r_{i+1}), last keeps r_n = r_k  | Gao et al. 2024           |
| shaping   | G_k = sum_{i>=k} gamma^(i-k) (gamma Phi_{i+1} - Phi_i)  | Ng, Harada, Russell 1999  |

References:
- J. Cheng et al., "Stop Summation: Min-Form Credit Assignment Is All Process Reward
  Model Needs for Reasoning", arXiv:2504.15275, 2025 (PURE).
- J. Gao et al., "On Designing Effective RL Reward at Training Time for LLM
  Reasoning", arXiv:2410.15115, 2024 (Clip and Delta mechanisms).
- A. Y. Ng, D. Harada, S. Russell, "Policy invariance under reward transformations:
  theory and application to reward shaping", ICML 1999.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "CREDIT",
    "CreditParams",
    "clip_rewards",
    "delta_rewards",
    "min_returns",
    "mix",
    "outcome_returns",
    "shaping_rewards",
    "signed",
    "softmin_rewards",
    "step_returns",
    "sum_returns",
    "tokens_from_steps",
]


def _check(r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if r.shape != mask.shape or r.dim() != 2:
        raise ValueError(
            f"rewards {tuple(r.shape)} and mask {tuple(mask.shape)} must both be (B, K)"
        )
    return mask.bool()


def signed(p: torch.Tensor) -> torch.Tensor:
    """A PRM probability p in [0, 1] as the signed reward 2p - 1 in [-1, 1].

    PURE scores a step with P(correct) - P(wrong), which is 2p - 1 for a two-way
    PRM head; a wrong step then costs, rather than merely earns nothing. Any shape.
    """
    return 2.0 * p - 1.0


def outcome_returns(outcome: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Outcome-only credit: every step of solution b gets its outcome reward o_b.

    outcome: (B,). mask: (B, K). Returns (B, K): G_bk = o_b at real steps, else 0.
    """
    mask = mask.bool()
    return torch.where(mask, outcome[:, None].to(torch.float32).expand(mask.shape), 0.0)


def sum_returns(r: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Sum-form credit: the discounted sum of the future step rewards.

    G_k = sum_{i=k}^{n-1} gamma^(i-k) r_i   (Sutton and Barto's return over steps).

    With gamma = 1 the first step's return is the total reward, so every extra step a
    PRM scores high raises it: the reward hacking of Gao et al. 2024 and Cheng et al.
    2025. r, mask: (B, K). Returns (B, K).
    """
    mask = _check(r, mask)
    out = torch.zeros_like(r, dtype=torch.float32)
    acc = torch.zeros(r.shape[0], dtype=torch.float32, device=r.device)
    for k in range(r.shape[1] - 1, -1, -1):
        acc = torch.where(mask[:, k], r[:, k].float() + gamma * acc, 0.0)
        out[:, k] = acc
    return out


def min_returns(r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Min-form credit (PURE, Cheng et al. 2025, Eq. for the min-form return):

    G_k = min_{i=k}^{n-1} r_i

    A trajectory is worth its weakest remaining step, so adding steps can never raise
    a return: a no-op step that scores 1 leaves the min unchanged. r, mask: (B, K).
    Returns (B, K).
    """
    mask = _check(r, mask)
    out = torch.zeros_like(r, dtype=torch.float32)
    inf = torch.full((r.shape[0],), float("inf"), device=r.device)
    acc = inf
    for k in range(r.shape[1] - 1, -1, -1):
        acc = torch.where(mask[:, k], torch.minimum(r[:, k].float(), acc), inf)
        out[:, k] = torch.where(mask[:, k], acc, 0.0)
    return out


def softmin_rewards(r: torch.Tensor, mask: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """PURE's softmin reweighting, the form its code trains with:

    r'_i = w_i r_i,   w = softmax(-r / T) over the real steps of the solution.

    Summed (`sum_returns(r', mask, 1)`), the first step's return sum_i w_i r_i tends
    to min_i r_i as T -> 0 (and to the mean as T -> inf). Unlike `min_returns`, the
    weights are computed once per solution, so steps after the weakest one get
    returns near 0. r, mask: (B, K). Returns (B, K).
    """
    mask = _check(r, mask)
    if temperature <= 0:
        raise ValueError("softmin temperature must be positive")
    logits = (-r.float() / temperature).masked_fill(~mask, float("-inf"))
    w = torch.softmax(logits, dim=1).nan_to_num(0.0)  # an all-padding row gives NaN
    return torch.where(mask, w * r.float(), 0.0)


def clip_rewards(r: torch.Tensor, mask: torch.Tensor, eta: float = 1.0) -> torch.Tensor:
    """Gao et al. 2024's Clip mechanism: r~_i = min(r_i - eta, 0).

    Every clipped reward is <= 0, so the sum over any number of steps is bounded above
    by 0: steps can only lose reward, never farm it. With a PRM in [0, 1] and eta = 1
    a step scored p costs p - 1. r, mask: (B, K). Returns (B, K).
    """
    mask = _check(r, mask)
    return torch.where(mask, torch.clamp(r.float() - eta, max=0.0), 0.0)


def delta_rewards(r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gao et al. 2024's Delta mechanism: r~_i = r_i - r_{i+1}; the last step keeps r_{n-1}.

    The undiscounted sum telescopes: sum_{i>=k} r~_i = r_k, so a step's return is its
    own PRM score whatever follows, and no number of extra steps can raise it.
    r, mask: (B, K). Returns (B, K).
    """
    mask = _check(r, mask)
    r = torch.where(mask, r.float(), 0.0)
    nxt = torch.zeros_like(r)
    nxt[:, :-1] = r[:, 1:]  # 0 past the last real step (mask is left-aligned)
    return torch.where(mask, r - nxt, 0.0)


def shaping_rewards(
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    phi0: float = 0.0,
    terminal_zero: bool = True,
) -> torch.Tensor:
    """Potential-based shaping (Ng et al. 1999) with the PRM's value as the potential.

    F_i = gamma * Phi(s_{i+1}) - Phi(s_i), with Phi(s_0) = phi0 (the bare prompt) and
    Phi(s_{i+1}) = values_i, the PRM's score after step i. With terminal_zero the
    potential of the finished solution is 0 (Ng et al.'s condition for episodic
    tasks): the shaping then changes no optimal policy. Summed with the same gamma
    it telescopes to G_k = gamma^(n-k) Phi(s_n) - Phi(s_k): with terminal_zero that is
    -Phi(s_k), a per-state baseline, and the outcome reward carries the goal.
    values, mask: (B, K). Returns (B, K).
    """
    mask = _check(values, mask)
    v = torch.where(mask, values.float(), 0.0)
    prev = torch.empty_like(v)
    prev[:, 0] = phi0
    prev[:, 1:] = v[:, :-1]
    nxt = v.clone()
    if terminal_zero:
        n = mask.sum(1)
        rows = torch.nonzero(n > 0).squeeze(1)
        nxt[rows, n[rows] - 1] = 0.0
    return torch.where(mask, gamma * nxt - prev, 0.0)


def mix(
    process: torch.Tensor, outcome: torch.Tensor, w_process: float = 1.0, w_outcome: float = 1.0
) -> torch.Tensor:
    """A process plus outcome mixture: w_process * process + w_outcome * outcome.

    process: (B, K) or (B, T); outcome: the same shape, or (B,) broadcast over the
    second axis. Returns process's shape.
    """
    if outcome.dim() == 1:
        outcome = outcome[:, None]
    return w_process * process.float() + w_outcome * outcome.float()


def tokens_from_steps(step_values: torch.Tensor, token_step: torch.Tensor) -> torch.Tensor:
    """Spread per-step values over the tokens: token t of row b gets step_values[b, token_step[b, t]].

    step_values: (B, K). token_step: (B, T) long, -1 at padding (which gets 0).
    Returns (B, T).
    """
    idx = token_step.clamp(min=0)
    out = step_values.float().gather(1, idx)
    return torch.where(token_step >= 0, out, 0.0)


@dataclass
class CreditParams:
    """The knobs of the credit methods (each method reads the ones it needs)."""

    gamma: float = 1.0
    """discount between steps (sum, clip, delta, shaping)"""
    temperature: float = 0.1
    """softmin temperature (PURE uses 0.1)"""
    eta: float = 1.0
    """clip threshold (clip)"""
    phi0: float = 0.0
    """potential of the bare prompt (shaping)"""


def _sum(r, m, p):
    return sum_returns(r, m, p.gamma)


def _min(r, m, p):
    return min_returns(r, m)


def _softmin(r, m, p):
    return sum_returns(softmin_rewards(r, m, p.temperature), m, 1.0)


def _clip(r, m, p):
    return sum_returns(clip_rewards(r, m, p.eta), m, p.gamma)


def _delta(r, m, p):
    return sum_returns(delta_rewards(r, m), m, p.gamma)


def _shaping(r, m, p):
    return sum_returns(shaping_rewards(r, m, p.gamma, p.phi0), m, p.gamma)


# credit method name -> (r (B, K), mask (B, K), CreditParams) -> returns (B, K)
CREDIT = {
    "sum": _sum,
    "min": _min,
    "softmin": _softmin,
    "clip": _clip,
    "delta": _delta,
    "shaping": _shaping,
}


def step_returns(
    method: str, r: torch.Tensor, mask: torch.Tensor, params: CreditParams | None = None
) -> torch.Tensor:
    """Per-step returns (B, K) of a named credit method (a key of CREDIT)."""
    if method not in CREDIT:
        raise ValueError(f"unknown credit method {method!r}; choose from {sorted(CREDIT)}")
    return CREDIT[method](r, mask, params or CreditParams())
