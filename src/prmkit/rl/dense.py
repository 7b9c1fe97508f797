"""Token-level process rewards for trainers that take one reward per token (verl).

A trainer that turns per-token rewards into returns by summing what follows (verl's
REINFORCE++ and GAE with gamma = lambda = 1; OpenRLHF's REINFORCE) credits token t with

    R_t = sum_{t' >= t} reward_t'.

prmkit's credit methods (`prmkit.rl.credit`) give each step k a return G_k. To make
every token of step k see exactly G_k, the reward placed on the token that ends step k
is the return's increment

    d_k = G_k - G_{k+1}        (G_K = 0 past the last step),

because the increments telescope: sum_{i >= k} d_i = G_k. The outcome is mixed in by
adding w_o * o to the last token, which adds w_o * o to every token's return: the
token-level form of `credit.mix`. A trainer that sums the whole response into one
number (verl's GRPO, RLOO) sees sum_t reward_t = G_0 + w_o * o, the first step's return:
for the min form that is min_k r_k, PURE's sequence-level reward (Cheng et al. 2025,
arXiv:2504.15275).

Shapes: B responses, K steps (the longest in the batch), T response tokens. Steps are
left-aligned, `mask` (B, K) True at real steps; `ends` (B, K) long is the index of the
token that ends each step, -1 at padding.
"""

from __future__ import annotations

import torch

from prmkit.rl import credit


def return_increments(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """d_k = G_k - G_{k+1}, with G = 0 past the last real step.

    returns, mask: (B, K). Returns (B, K), 0 at padding; sum_{i >= k} d_i = G_k.
    """
    mask = mask.bool()
    g = torch.where(mask, returns.float(), 0.0)
    nxt = torch.zeros_like(g)
    nxt[:, :-1] = g[:, 1:]
    return torch.where(mask, g - nxt, 0.0)


def step_end_tokens(token_step: torch.Tensor, k: int) -> torch.Tensor:
    """The last token of each step: ends[b, j] = max{t : token_step[b, t] = j}, else -1.

    token_step: (B, T) long, the step of each token (-1 at padding), as
    `prmkit.rl.rollout.token_steps` assigns them (a separator token belongs to the step
    it closes, so a step ends on its separator, the last step on the final token).
    Returns (B, k) long.
    """
    B, T = token_step.shape
    pos = torch.arange(T).expand(B, T)
    ends = torch.full((B, k), -1, dtype=torch.long)
    for j in range(k):
        hit = token_step == j
        ends[:, j] = torch.where(hit.any(1), torch.where(hit, pos, -1).max(1).values, -1)
    return ends


def place_on_tokens(values: torch.Tensor, ends: torch.Tensor, T: int) -> torch.Tensor:
    """Put values[b, k] on token ends[b, k] (skipping ends of -1). values, ends: (B, K).
    Returns (B, T); values that share a token add up."""
    out = torch.zeros(values.shape[0], T)
    ok = ends >= 0
    rows = torch.arange(values.shape[0])[:, None].expand_as(ends)
    out.index_put_((rows[ok], ends[ok]), values.float()[ok], accumulate=True)
    return out


def dense_rewards(
    r: torch.Tensor,
    mask: torch.Tensor,
    ends: torch.Tensor,
    last: torch.Tensor,
    outcome: torch.Tensor,
    T: int,
    method: str = "min",
    params: credit.CreditParams | None = None,
    w_process: float = 1.0,
    w_outcome: float = 1.0,
) -> torch.Tensor:
    """Token rewards whose sums-to-go are the credit method's step returns plus the outcome.

    r: (B, K) step rewards (PRM probabilities, or 2p - 1). mask, ends: (B, K). last: (B,)
    long, each response's last token (-1 for an empty response, which gets nothing).
    outcome: (B,) the verifier's 0/1. Returns (B, T):

        reward[b, ends[b, k]] += w_process * (G_k - G_{k+1}),  G = step_returns(method, r)
        reward[b, last[b]]   += w_outcome * outcome[b]
    """
    g = credit.step_returns(method, r, mask, params)
    out = place_on_tokens(w_process * return_increments(g, mask), ends, T)
    has = last >= 0
    rows = torch.nonzero(has).squeeze(1)
    out[rows, last[rows]] += w_outcome * outcome.float()[rows]
    return out
