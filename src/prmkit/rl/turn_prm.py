"""Turn rewards learned online next to the policy: OPRL's implicit PRM and SPA-RL's
progress estimator.

Both are a trainable copy pi_phi of the policy read as an implicit reward model (as
PRIME's is, `prmkit.rl.prime`): a turn's value is beta times the summed log-ratio of
its action tokens, `turn_credit.implicit_turn_rewards` over `prm.implicit.step_sums`
(observation tokens are no action tokens, so they never count). Each RL step the model
takes one optimizer step on the new batch, then scores it:

- oprl (Liu et al. 2025, arXiv:2509.19199): r_t = beta log pi_phi(a_t|h_t) / pi_old(a_t|h_t),
  pi_old the policy that sampled the batch; loss: the trajectory DPO objective on every
  (success, failure) pair of the same task (`trajectory_dpo_loss`, `preference_pairs`).
- spa (Wang et al. 2025, arXiv:2505.20732): c_t = beta log pi_phi(a_t|h_t) / pi_ref(a_t|h_t),
  pi_ref the frozen start; loss: SPA's (sum_t c_t - R)^2 (`spa_loss`), so a trajectory's
  contributions add up to its outcome; reward r_t = c_t + w_g g_t (`spa_rewards`), g_t
  the grounding signal (1 when the action was executable). SPA-RL trains its
  estimator (a value head on the backbone) on the policy's rollouts; here it is the
  implicit parameterisation above, trained online on each batch.
"""

from __future__ import annotations

import torch

from prmkit.models.reproducible import clip_grad_norm_
from prmkit.prm.implicit import step_sums
from prmkit.rl import turn_credit as tc
from prmkit.rl.rollout import Batch, PolicyAdapter, token_logprobs


def turn_log_ratio_rewards(
    logp_phi: torch.Tensor, logp_base: torch.Tensor, batch: Batch, beta: float
) -> torch.Tensor:
    """(B, K) beta * sum over turn k's action tokens of (log pi_phi - log pi_base).

    logp_phi, logp_base: (B, T) per action token (0 at padding); the turn of each
    token is batch.token_step. `turn_credit.implicit_turn_rewards` on the turn sums.
    """
    K = batch.step_mask.shape[1]
    lp_phi = step_sums(torch.where(batch.token_mask, logp_phi, 0.0), batch.token_step, K)
    lp_base = step_sums(torch.where(batch.token_mask, logp_base, 0.0), batch.token_step, K)
    return tc.implicit_turn_rewards(lp_phi, lp_base, batch.step_mask, beta)


def online_loss(
    method: str, values: torch.Tensor, mask: torch.Tensor, outcome: torch.Tensor, n: int
) -> torch.Tensor:
    """The model's objective on its turn values (B, K): OPRL's trajectory DPO loss over
    the group's (success, failure) pairs, or SPA's (sum_t c_t - R)^2. Scalar."""
    if method == "oprl":
        return tc.trajectory_dpo_loss(values, mask, tc.preference_pairs(outcome, n))
    return tc.spa_loss(values, mask, outcome)


class OnlineTurnPRM:
    """An implicit turn-level reward model trained online: method "oprl" or "spa"."""

    def __init__(
        self, adapter: PolicyAdapter, method: str, beta: float, lr: float, group_size: int
    ) -> None:
        if method not in ("oprl", "spa"):
            raise ValueError(f"unknown online turn PRM {method!r}; choose oprl or spa")
        self.adapter = adapter
        self.method = method
        self.beta = beta
        self.n = group_size
        self.phi = adapter.trainable_copy()
        self.opt = torch.optim.AdamW(self.phi.parameters(), lr=lr, weight_decay=0.0)

    def update(self, batch: Batch, outcome: torch.Tensor, logp_base: torch.Tensor) -> float:
        """One optimizer step of the model's objective on this batch; returns the loss."""
        logp_phi = token_logprobs(self.adapter, self.phi, batch)
        values = turn_log_ratio_rewards(logp_phi, logp_base, batch, self.beta)
        loss = online_loss(self.method, values, batch.step_mask, outcome, self.n)
        if not loss.requires_grad:  # OPRL with no (success, failure) pair: nothing to learn
            return float(loss)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(self.phi.parameters(), 1.0)
        self.opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def turn_values(self, batch: Batch, logp_base: torch.Tensor) -> torch.Tensor:
        """(B, K) the model's turn values (OPRL's r_t, SPA's c_t) under its current weights."""
        logp_phi = token_logprobs(self.adapter, self.phi, batch)
        return turn_log_ratio_rewards(logp_phi, logp_base, batch, self.beta)

    def step(
        self,
        batch: Batch,
        outcome: torch.Tensor,
        logp_base: torch.Tensor,
        grounded: torch.Tensor | None = None,
        w_grounding: float = 0.0,
    ) -> tuple[torch.Tensor, dict]:
        """Update on the batch, then score it: (B, K) turn rewards and the metrics.

        logp_base: (B, T) pi_old's (oprl) or pi_ref's (spa) action-token log-probs.
        grounded: (B, K) SPA's g_t, weighted by w_grounding (spa only).
        """
        loss = self.update(batch, outcome, logp_base)
        values = self.turn_values(batch, logp_base)
        if self.method == "spa":
            values = tc.spa_rewards(values, batch.step_mask, grounded, 1.0, w_grounding)
        m = batch.step_mask
        mean = float(values[m].mean()) if m.any() else 0.0
        return values, {f"{self.method}_loss": loss, f"{self.method}_turn_reward": mean}
