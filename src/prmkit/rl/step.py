"""The stages of one RL step, in the order `RLTrainer.step` runs them.

1. rewards: per-step rewards r (B, K) from a PRM or an online implicit PRM (PRIME,
   OPRL, SPA), and per-step returns G (B, K) from a credit method (`credit_returns`:
   `prmkit.rl.credit`, or the turn-level `prmkit.rl.turn_credit`);
2. filtering: which samples the update learns from (PRIME's accuracy band, PROF);
3. advantages: a group baseline spread over tokens, A_t = w_o A^o + w_p A^p_step(t)
   (`prmkit.rl.advantages`), PRIME's RLOO advantage, or PAV's A_t = w_o A^o +
   alpha A^prover_step(t) (`prmkit.rl.pav`);
4. update: the clipped policy-gradient loss (PPO, Schulman et al. 2017, eq. 7) with
   the token-mean reduction and an optional k3 KL penalty to the reference;
5. metrics: one row of metrics.jsonl.

Each stage is a function of tensors and settings, tested on its own
(tests/test_rl_step.py). B samples in groups of n, K steps, T generated tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from prmkit.rl import advantages as adv
from prmkit.rl import credit
from prmkit.rl import turn_credit as tc
from prmkit.rl.filtering import accuracy_band, prof_select
from prmkit.rl.pav import pav_token_advantages
from prmkit.rl.prime import prime_advantages
from prmkit.rl.rollout import Batch, Rollout


@dataclass
class Rewards:
    """What the reward stage hands on. step_r: (B, K) step rewards of the process
    source (pav: each step's advantage under the prover); returns: (B, K) per-step
    returns of the credit method; token_r: (B, T) PRIME's implicit token rewards;
    clip_scale: (B, K) A^2TGPO's per-step factor of the PPO clip range. Each is None
    where the reward has no such part.
    metrics: the source's own figures (prm_mean, prm_loss, ...)."""

    step_r: torch.Tensor | None = None
    returns: torch.Tensor | None = None
    token_r: torch.Tensor | None = None
    metrics: dict = field(default_factory=dict)
    clip_scale: torch.Tensor | None = None


TURN_CREDIT = ("gated", "a2tgpo")


def credit_returns(
    s, step_r: torch.Tensor, step_mask: torch.Tensor, outcome: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-step returns G (B, K) of the run's credit method, and A^2TGPO's clip factors.

    `s`: the run's RLSettings. gated: G-RA's outcome-gated sum (`turn_credit.gated_returns`);
    a2tgpo: the rescaled accumulation of the turn-group-normalised rewards, and the
    adaptive clip factor of each normalised reward (`turn_credit`); otherwise a
    method of `prmkit.rl.credit`. step_r, step_mask: (B, K); outcome: (B,).
    """
    if s.credit == "gated":
        return tc.gated_returns(step_r, step_mask, outcome, s.gate_threshold, s.gamma), None
    if s.credit == "a2tgpo":
        x_hat = tc.turn_group_normalize(step_r, step_mask, s.group_size)
        G = tc.rescaled_accumulation(x_hat, step_mask, s.gamma)
        return G, torch.where(step_mask, tc.adaptive_clip_scale(x_hat, s.clip_beta), 1.0)
    params = credit.CreditParams(s.gamma, s.softmin_temperature, s.clip_eta, s.phi0)
    return credit.step_returns(s.credit, step_r, step_mask, params), None


def clip_ranges(clip_ratio: float, clip_scale: torch.Tensor | None, token_step: torch.Tensor):
    """The PPO clip range of every token: clip_ratio, or clip_ratio times its step's
    A^2TGPO factor (B, T)."""
    if clip_scale is None:
        return clip_ratio
    return clip_ratio * torch.where(
        token_step >= 0, credit.tokens_from_steps(clip_scale, token_step), 1.0
    )


@dataclass
class Update:
    """What the update stage measured: loss, gradient norm, KL to the reference and
    entropy (token means at the first epoch), and whether the weights moved."""

    loss: float = 0.0
    grad_norm: float = 0.0
    kl: float = 0.0
    entropy: float = 0.0
    learned: bool = False


def resolve_filter(filter: str, reward: str) -> str:
    """The filter `auto` stands for: PRIME's band with prime rewards, none otherwise."""
    if filter != "auto":
        return filter
    return "band" if reward == "prime" else "none"


def select_samples(
    filter: str,
    outcome: torch.Tensor,
    step_r: torch.Tensor | None,
    step_mask: torch.Tensor,
    n: int,
    band: tuple[float, float] = (0.2, 0.8),
    prof_keep: int = 4,
) -> tuple[torch.Tensor, int]:
    """Which samples to learn from, and the size of a group among them.

    filter: none, band (keep whole groups whose accuracy lies in `band`, PRIME) or
    prof (keep `prof_keep` samples a group by outcome and mean step reward, PROF).
    outcome: (B,) 0/1; step_r, step_mask: (B, K). Returns keep (B,) bool and n.
    """
    if filter == "band":
        return accuracy_band(outcome.reshape(-1, n), *band).repeat_interleave(n), n
    if filter == "prof":
        pmean = step_r.sum(1) / step_mask.sum(1).clamp(min=1)
        keep = prof_select(outcome.reshape(-1, n).bool(), pmean.reshape(-1, n), prof_keep)
        return keep.reshape(-1), prof_keep
    return torch.ones(outcome.shape[0], dtype=torch.bool), n


def token_advantages(
    batch: Batch,
    outcome: torch.Tensor,
    rewards: Rewards,
    keep: torch.Tensor,
    group_n: int,
    s,
) -> torch.Tensor:
    """(B, T) token advantages of the kept samples, 0 elsewhere (their groups stay
    contiguous and equal-sized). `s`: the run's RLSettings (advantage, credit, weights).

    A^2TGPO's returns are already normalised within (task, turn) groups, so they reach
    the tokens as they are: A_t = w_o A^outcome + w_p G_turn(t)."""
    A = torch.zeros(batch.token_mask.shape)
    idx = torch.nonzero(keep).squeeze(1)
    if not len(idx):
        return A
    if s.reward == "pav":
        A[idx] = pav_token_advantages(
            batch.token_step[idx],
            outcome[idx],
            rewards.step_r[idx],
            group_n,
            s.advantage,
            s.w_outcome,
            s.pav_alpha,
        )
    elif s.reward == "prime" and s.credit == "sum":
        A[idx] = prime_advantages(
            rewards.token_r[idx],
            batch.token_mask[idx],
            outcome[idx],
            group_n,
            s.gamma,
            s.w_process,
            s.w_outcome,
        )
    elif s.credit == "a2tgpo" and rewards.returns is not None:
        a_o = adv.outcome_advantages(outcome[idx], group_n, s.advantage)
        A[idx] = adv.token_advantages(
            batch.token_step[idx], a_o, rewards.returns[idx], s.w_outcome, s.w_process
        )
    else:
        G = rewards.returns
        A[idx] = adv.mixed_advantages(
            batch.token_step[idx],
            outcome[idx],
            G[idx] if G is not None else None,
            batch.step_mask[idx],
            group_n,
            s.advantage,
            s.w_outcome,
            s.w_process,
        )
    return A


def k3(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi || ref) per token: e^d - d - 1, d = log ref - log pi."""
    d = logp_ref - logp
    return d.exp() - d - 1


def policy_loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    logp_ref: torch.Tensor,
    A: torch.Tensor,
    mask: torch.Tensor,
    clip_ratio: float | torch.Tensor = 0.2,
    kl_coef: float = 0.0,
) -> torch.Tensor:
    """Token-mean clipped policy-gradient loss, plus kl_coef times the k3 KL.

    -min(rho A, clip(rho, 1 - eps, 1 + eps) A), rho = exp(logp - old) (PPO eq. 7);
    with one epoch rho = 1 and this is the plain policy gradient. All (B, T); mask
    selects the tokens that count; clip_ratio: one eps, or one per token (B, T).
    """
    n_tok = int(mask.sum())
    ratio = (logp - old).exp()
    pg = -torch.minimum(ratio * A, ratio.clamp(1 - clip_ratio, 1 + clip_ratio) * A)
    loss = pg[mask].sum() / n_tok
    if kl_coef > 0:
        loss = loss + kl_coef * k3(logp, logp_ref)[mask].sum() / n_tok
    return loss


def should_learn(A: torch.Tensor, mask: torch.Tensor, kl_coef: float) -> bool:
    """Whether an update has anything to learn: some token with a nonzero advantage, or
    a KL term. Otherwise the step is skipped, as Adam's momentum would keep moving
    the weights."""
    return bool(mask.any()) and (kl_coef > 0 or bool((A[mask] != 0).any()))


def total_reward(outcome: torch.Tensor, rewards: Rewards, s) -> torch.Tensor:
    """(B,) each sample's reward: the outcome, plus the weighted process part (the
    return of its first step, PRIME's summed token rewards, or PAV's summed progress)."""
    if s.reward == "pav":
        return s.w_outcome * outcome + s.pav_alpha * rewards.step_r.sum(1)
    if rewards.returns is not None:
        return s.w_outcome * outcome + s.w_process * rewards.returns[:, 0]
    if rewards.token_r is not None:
        return s.w_outcome * outcome + s.w_process * rewards.token_r.sum(1)
    return outcome.clone()


def all_equal_groups(outcome: torch.Tensor, n: int) -> float:
    """Share of groups whose n outcomes are all equal (all right or all wrong): under a
    group baseline their outcome advantage is 0. outcome: (B,), B = P * n."""
    g = outcome.reshape(-1, n)
    return float((g == g[:, :1]).all(1).float().mean())


def step_metrics(
    step: int,
    rolls: list[Rollout],
    batch: Batch,
    outcome: torch.Tensor,
    rewards: Rewards,
    keep: torch.Tensor,
    upd: Update,
    s,
) -> dict:
    """One row of metrics.jsonl (without the step's seconds)."""
    n_steps = sum(len(r.steps) for r in rolls)
    per_step = max(n_steps, 1)
    return {
        "step": step,
        "accuracy": round(float(outcome.mean()), 4),
        "reward": round(float(total_reward(outcome, rewards, s).mean()), 4),
        "steps_per_solution": round(n_steps / len(rolls), 3),
        "tokens_per_solution": round(float(batch.token_mask.sum()) / len(rolls), 2),
        "noop_frac": round(sum(r.n_noop for r in rolls) / per_step, 4),
        "repeat_frac": round(sum(r.n_repeat for r in rolls) / per_step, 4),
        "wasted_frac": round(sum(r.n_wasted for r in rolls) / per_step, 4),
        "kl": round(upd.kl, 5),
        "entropy": round(upd.entropy, 4),
        "loss": round(upd.loss, 5),
        "grad_norm": round(upd.grad_norm, 4),
        "kept_frac": round(float(keep.float().mean()), 4),
        "all_wrong_groups": round(
            float((outcome.reshape(-1, s.group_size).sum(1) == 0).float().mean()), 4
        ),
        "all_equal_groups": round(all_equal_groups(outcome, s.group_size), 4),
        "updated": upd.learned,
    } | {k: round(v, 5) for k, v in rewards.metrics.items()}
