"""PRIME: an implicit PRM updated online from outcome labels (Cui et al. 2025).

G. Cui et al., "Process Reinforcement through Implicit Rewards", arXiv:2502.01456, 2025.
The implicit PRM is a causal LM pi_phi next to a frozen reference pi_ref (both start
as the SFT policy). Following Yuan et al. 2024 ("Free Process Rewards without Process
Labels", arXiv:2412.01981):

- token reward        r_t = beta * log( pi_phi(y_t | y_<t) / pi_ref(y_t | y_<t) )
- step value          q_k = sum of r_t up to the end of step k; sigma(q_k) estimates
                      P(correct | steps <= k)
- PRM loss (outcome)  L = BCE( sigma(sum_t r_t), o ), o the verifier's 0/1 label
- advantage (RLOO over both sources, PRIME Eq. 5), for sample i of a group of n:
    A_t = sum_{s>=t} gamma^(s-t) [ r_s - 1/(n-1) sum_{j!=i} (sum_u r^j_u) / |y^j| ]
          + gamma^(|y|-1-t) [ o_i - 1/(n-1) sum_{j!=i} o_j ],
  then whitened over the batch's tokens.

The implicit-PRM maths (token rewards, step sums, q values, the CE loss) are those of
`prmkit.prm.implicit`; the RLOO advantage and the online loop are here.

Each run of PRIME here: sample, grade, filter prompts to an accuracy band
(`prmkit.rl.filtering.accuracy_band`), score tokens with the current pi_phi, take one
CE step on pi_phi with the new outcome labels, and update the policy with the
advantages above.
"""

from __future__ import annotations

import torch

from prmkit.models.generator import Generation
from prmkit.models.reproducible import clip_grad_norm_
from prmkit.models.steps import render
from prmkit.prm.implicit import implicit_ce_loss, implicit_token_rewards, q_values, step_sums
from prmkit.rl.rollout import Batch, PolicyAdapter, Rollout, make_batch, token_logprobs, token_steps


def masked_token_rewards(
    logp_phi: torch.Tensor, logp_ref: torch.Tensor, beta: float, mask: torch.Tensor
) -> torch.Tensor:
    """`prmkit.prm.implicit.implicit_token_rewards` (beta * log ratio), 0 off mask. (B, T)."""
    return torch.where(mask, implicit_token_rewards(logp_phi, logp_ref, beta), 0.0)


def implicit_prm_loss(
    token_rewards: torch.Tensor, mask: torch.Tensor, correct: torch.Tensor
) -> torch.Tensor:
    """PRIME's cross-entropy PRM loss BCE(sigma(sum_t r_t), o) on the masked tokens
    (`prmkit.prm.implicit.implicit_ce_loss`). correct: (B,) 0/1. Scalar."""
    return implicit_ce_loss(torch.where(mask, token_rewards, 0.0).sum(1), correct)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std over the masked entries (unbiased std); 0 off mask."""
    vals = x[mask]
    if vals.numel() < 2:
        return torch.where(mask, x - vals.mean() if vals.numel() else x, 0.0)
    return torch.where(mask, (x - vals.mean()) / (vals.std() + eps), 0.0)


def discounted_token_returns(
    rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0
) -> torch.Tensor:
    """sum_{s>=t} gamma^(s-t) rewards_s along the tokens. (B, T) -> (B, T), 0 off mask."""
    out = torch.zeros_like(rewards, dtype=torch.float32)
    acc = torch.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        acc = torch.where(mask[:, t], rewards[:, t].float() + gamma * acc, 0.0)
        out[:, t] = acc
    return out


def prime_advantages(
    token_rewards: torch.Tensor,
    mask: torch.Tensor,
    outcome: torch.Tensor,
    n: int,
    gamma: float = 1.0,
    w_process: float = 1.0,
    w_outcome: float = 1.0,
    whiten: bool = True,
) -> torch.Tensor:
    """PRIME's RLOO advantage over implicit process rewards and outcome rewards.

    token_rewards, mask: (B, T), B = P * n in groups of n. outcome: (B,) 0/1.
    Returns (B, T) (see the module docstring for the formula), whitened if asked.
    """
    if n < 2:
        raise ValueError("PRIME's RLOO needs at least 2 samples per prompt")
    B, T = token_rewards.shape
    r = torch.where(mask, token_rewards.float(), 0.0)
    per_tok = r.sum(1) / mask.sum(1).clamp(min=1)  # (B,) mean token reward of each sample
    g = per_tok.reshape(-1, n)
    base_p = ((g.sum(1, keepdim=True) - g) / (n - 1)).reshape(B)
    proc = discounted_token_returns(torch.where(mask, r - base_p[:, None], 0.0), mask, gamma)
    o = outcome.float().reshape(-1, n)
    adv_o = (o - (o.sum(1, keepdim=True) - o) / (n - 1)).reshape(B)
    # The outcome reward sits on the last token; its return at t is discounted by the distance.
    last = mask.sum(1, keepdim=True) - 1
    dist = (last - torch.arange(T)[None, :]).clamp(min=0).float()
    out_tok = torch.where(mask, adv_o[:, None] * gamma**dist, 0.0)
    adv = w_process * proc + w_outcome * out_tok
    return masked_whiten(adv, mask) if whiten else adv


class OnlineImplicitPRM:
    """PRIME's implicit PRM: a trainable copy of the policy scored against a frozen reference.

    Also a `StepScorer`: `score` gives sigma(q) at the end of each step.
    """

    kind = "implicit"

    def __init__(
        self,
        adapter: PolicyAdapter,
        ref_model: torch.nn.Module,
        beta: float = 0.05,
        lr: float = 1e-4,
    ) -> None:
        self.adapter = adapter
        self.ref = ref_model
        self.phi = adapter.trainable_copy()
        self.beta = beta
        self.opt = torch.optim.AdamW(self.phi.parameters(), lr=lr, weight_decay=0.0)

    @torch.no_grad()
    def token_rewards(self, batch: Batch, logp_ref: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) implicit token rewards under the current pi_phi."""
        if logp_ref is None:
            logp_ref = token_logprobs(self.adapter, self.ref, batch)
        logp_phi = token_logprobs(self.adapter, self.phi, batch)
        return masked_token_rewards(logp_phi, logp_ref, self.beta, batch.token_mask)

    def update(
        self, batch: Batch, correct: torch.Tensor, logp_ref: torch.Tensor | None = None
    ) -> float:
        """One cross-entropy step on pi_phi with outcome labels; returns the loss."""
        if logp_ref is None:
            with torch.no_grad():
                logp_ref = token_logprobs(self.adapter, self.ref, batch)
        logp_phi = token_logprobs(self.adapter, self.phi, batch)
        loss = implicit_prm_loss(
            masked_token_rewards(logp_phi, logp_ref, self.beta, batch.token_mask),
            batch.token_mask,
            correct,
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(self.phi.parameters(), 1.0)
        self.opt.step()
        return float(loss.detach())

    def _continuation_ids(self, prompt_text: str, cont: str) -> list[int]:
        """The ids of `cont` as the policy reads it after `prompt_text`: the tail of the
        whole text's ids where its head is the prompt's ids, else `cont` on its own."""
        a = self.adapter
        head = a.prompt_ids(prompt_text)
        full = a.prompt_ids(prompt_text + cont)
        if full[: len(head)] == head:
            return full[len(head) :]
        return a.policy.encode(cont)

    @torch.no_grad()
    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """Per step, sigma(q) at the step's last token: the implicit PRM's P(correct)."""
        if not items:
            return []
        sep = self.adapter.step_sep
        rolls = []
        for prompt, steps in items:
            ids = self._continuation_ids(render(prompt, (), sep), "".join(s + sep for s in steps))
            tstep, got = token_steps([self.adapter.piece(t) for t in ids], sep)
            rolls.append(
                Rollout(prompt, "", Generation("", got, ids, [0.0] * len(ids)), got, tstep, False)
            )
        batch = make_batch(self.adapter, rolls)
        K = batch.step_mask.shape[1]
        # q_k = sum of the token rewards up to the end of step k (prmkit.prm.implicit)
        q = torch.sigmoid(q_values(step_sums(self.token_rewards(batch), batch.token_step, K)))
        out = []
        for b, (_, steps) in enumerate(items):
            out.append([float(q[b, k]) if k < K else 0.5 for k in range(len(steps))])
        return out
