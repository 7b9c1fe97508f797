"""Progress rewards for RL: each step's advantage under a prover policy (PAV).

A. Setlur et al., "Rewarding Progress: Scaling Automated Process Verifiers for LLM
Reasoning", arXiv:2410.08146, 2024. The process reward of step h is its *progress*,
the advantage of the step under a prover policy mu:

    A^mu(s_h, a_h) = Q^mu(s_h, a_h) - V^mu(s_h)

the prover's chance of reaching the right answer after the step minus before it. Here
V_h is that chance from the first h steps (V_0: from the bare problem; the full prefix
of a finished solution is worth its own grade, 0 or 1), estimated by Monte Carlo:
k completions of the prover from the prefix (`prmkit.label.mc.values_at`, the mc
labeler's rollouts). So A_h = V_h - V_{h-1} for steps h = 1..n.

The paper's RL objective (its Eq. 4) adds alpha times the summed step advantages
under the prover to the outcome objective; its policy gradient (Eq. 5) credits step h
with the effective reward Q^pi(s_h, a_h) + alpha * A^mu(s_h, a_h). Here Q^pi is the
outcome, baselined per group (GRPO or RLOO), and the progress term enters as it is,
step h's own advantage (Eq. 2), not summed over later steps and not baselined again
(it is an advantage already):

    A_t = w_o * A^outcome_b + alpha * A^mu_{b, step(t)}

With mu = pi, Eq. 5 is the outcome-only gradient (the paper's point: the prover must
differ from the policy). Its RL runs use a fixed SFT checkpoint as the prover; its
search runs use Best-of-4 of the base policy, whose values `best_of_k` gives from mu's
own (the paper's App. D: 1 - (1 - Q)^K).

Shapes: B solutions, K steps (the longest in the batch), T generated tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prmkit.data import Sample
from prmkit.label.base import LabelContext
from prmkit.label.mc import values_at
from prmkit.models.generator import Generator
from prmkit.rl import advantages as adv


def step_progress(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-step advantages A_h = V_h - V_{h-1} (Setlur et al. 2024, progress).

    values: (B, K + 1), V_0..V_n of each solution left-aligned (V_0 from the bare
    problem), anything past V_n. mask: (B, K) bool, True at real steps (left-aligned).
    Returns (B, K), 0 at padding; row b sums to V_{n_b} - V_0.
    """
    if values.dim() != 2 or values.shape != (mask.shape[0], mask.shape[1] + 1):
        raise ValueError(
            f"values {tuple(values.shape)} must be (B, K + 1) for mask {tuple(mask.shape)}"
        )
    v = values.float()
    return torch.where(mask.bool(), v[:, 1:] - v[:, :-1], 0.0)


def best_of_k(values: torch.Tensor, k: int) -> torch.Tensor:
    """Success chance of the Best-of-K prover BoK(mu) from mu's own: 1 - (1 - V)^k.

    BoK(mu) samples k completions and keeps a right one if any (it is judged by the
    outcome), so it succeeds unless all k fail. Any shape; k = 1 returns values.
    """
    if k < 1:
        raise ValueError("best-of-k needs k >= 1")
    return 1.0 - (1.0 - values.float()) ** k


def pav_token_advantages(
    token_step: torch.Tensor,
    outcome: torch.Tensor,
    progress: torch.Tensor,
    n: int,
    method: str = "grpo",
    w_outcome: float = 1.0,
    alpha: float = 1.0,
) -> torch.Tensor:
    """Token advantages of PAV-RL: w_o * A^outcome_b + alpha * A^mu_{b, step(t)}.

    token_step: (B, T) long, -1 at padding; outcome: (B,) 0/1; progress: (B, K) step
    advantages under the prover (`step_progress`); n: group size; method: the
    outcome's group baseline (grpo or rloo). Returns (B, T), 0 at padding.
    """
    a_o = adv.outcome_advantages(outcome, n, method)
    return adv.token_advantages(token_step, a_o, progress, w_outcome, alpha)


@dataclass
class ProverValues:
    """Monte Carlo values V_0..V_n of each rollout's prefixes under a prover policy.

    A prefix shared by several rollouts of a step (the same problem and the same
    steps so far, as the right first steps of a group often are) is estimated once.
    """

    prover: Generator
    k: int = 4
    max_new_tokens: int = 96
    temperature: float = 1.0
    best_of: int = 1
    world: str = "arithmetic"

    def values(self, rollouts: list, K: int, seed: int) -> tuple[torch.Tensor, dict]:
        """(B, K + 1) values V_0..V_n per rollout (each row's last value repeated past
        its n), and the cost: prover rollouts and tokens. rollouts: `rl.rollout.Rollout`s."""
        ctx = LabelContext(
            k=self.k,
            seed=seed,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            world=self.world,
            generator=self.prover,
        )
        keys, wanted = {}, []
        for r in rollouts:
            for p in range(len(r.steps) + 1):
                key = (r.prompt, tuple(r.steps[:p]))
                if key not in keys:
                    keys[key] = len(wanted)
                    wanted.append((_prefix_sample(r, p), p))
        got = values_at(ctx, wanted)
        out = torch.zeros((len(rollouts), K + 1))
        for b, r in enumerate(rollouts):
            row = [got[keys[r.prompt, tuple(r.steps[:p])]][0] for p in range(len(r.steps) + 1)]
            out[b, : len(row)] = torch.tensor(row)
            out[b, len(row) :] = row[-1]
        cost = {
            "prover_rollouts": sum(x[1] for x in got),
            "prover_tokens": sum(x[2] for x in got),
            "prover_prefixes": len(wanted),
        }
        return best_of_k(out, self.best_of), cost

    def progress(self, rollouts: list, mask: torch.Tensor, seed: int) -> tuple[torch.Tensor, dict]:
        """(B, K) step advantages under the prover (0 at padding) and the step's figures:
        mean progress, mean V_0, and what the prover spent. mask: (B, K) real steps."""
        values, cost = self.values(rollouts, mask.shape[1], seed)
        prog = step_progress(values, mask)
        real = prog[mask.bool()]
        return prog, cost | {
            "pav_mean": float(real.mean()) if real.numel() else 0.0,
            "pav_abs_mean": float(real.abs().mean()) if real.numel() else 0.0,
            "prover_v0_mean": float(values[:, 0].mean()),
        }


def _prefix_sample(r, p: int) -> Sample:
    """The first p steps of a rollout as a Sample the mc rollouts read; its id (the
    problem's prompt) seeds the rollouts with the prefix length."""
    return Sample(
        id=r.prompt,
        problem_id=r.prompt,
        prompt=r.prompt,
        reference=r.answer,
        steps=list(r.steps[:p]),
    )
