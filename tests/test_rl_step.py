"""Each stage of an RL step on its own, against hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from prmkit.models.generator import Generation
from prmkit.rl.rollout import Batch, Rollout
from prmkit.rl.step import (
    Rewards,
    Update,
    k3,
    policy_loss,
    resolve_filter,
    select_samples,
    should_learn,
    step_metrics,
    token_advantages,
    total_reward,
)
from prmkit.rl.trainer import RLSettings


def batch_of(token_step: list[list[int]], n_steps: list[int]) -> Batch:
    """A Batch with only the fields the stages read: token_mask, token_step, step_mask."""
    ts = torch.tensor(token_step)
    K = max(n_steps)
    step_mask = torch.tensor([[k < n for k in range(K)] for n in n_steps])
    z = torch.zeros_like(ts)
    return Batch(z, z.bool(), z, z, ts >= 0, ts, step_mask)


def test_auto_filter_is_the_band_for_prime_only():
    assert resolve_filter("auto", "prime") == "band"
    assert resolve_filter("auto", "prm") == "none"
    assert resolve_filter("prof", "prime") == "prof"


def test_band_keeps_whole_groups_whose_accuracy_lies_in_the_band():
    outcome = torch.tensor([1.0, 1, 1, 1, 1, 0, 0, 0])  # accuracies 1.0 and 0.25
    keep, n = select_samples("band", outcome, None, torch.ones(8, 1, dtype=torch.bool), 4)
    assert keep.tolist() == [False] * 4 + [True] * 4 and n == 4
    keep, n = select_samples("none", outcome, None, torch.ones(8, 1, dtype=torch.bool), 4)
    assert keep.all() and n == 4


def test_prof_keeps_the_best_correct_and_the_worst_wrong_per_group():
    outcome = torch.tensor([1.0, 1, 0, 0])
    step_r = torch.tensor([[0.9, 0.9], [0.2, 0.0], [0.1, 0.0], [0.8, 0.8]])
    mask = torch.tensor([[True, True], [True, False], [True, True], [True, True]])
    keep, n = select_samples("prof", outcome, step_r, mask, 4, prof_keep=2)
    # means 0.9, 0.2, 0.05, 0.8: keep correct #0 (highest) and wrong #2 (lowest)
    assert keep.tolist() == [True, False, True, False] and n == 2


def test_outcome_only_advantages_spread_grpo_over_the_kept_tokens():
    s = RLSettings(reward="outcome", advantage="grpo", group_size=2)
    batch = batch_of([[0, 0, -1], [0, 1, 1], [0, -1, -1], [0, 0, 0]], [1, 2, 1, 1])
    outcome = torch.tensor([1.0, 0.0, 1.0, 1.0])
    keep = torch.tensor([True, True, False, False])
    A = token_advantages(batch, outcome, Rewards(), keep, 2, s)
    a = 0.5 / (math.sqrt(0.5) + 1e-6)  # (1 - 0.5) / unbiased std of {1, 0}
    expect = [[a, a, 0], [-a, -a, -a], [0, 0, 0], [0, 0, 0]]
    assert torch.allclose(A, torch.tensor(expect), atol=1e-6)
    assert token_advantages(batch, outcome, Rewards(), torch.zeros(4).bool(), 2, s).eq(0).all()


def test_policy_loss_is_the_token_mean_of_the_clipped_objective():
    A = torch.tensor([[1.0, 2.0], [-3.0, 5.0]])
    mask = torch.tensor([[True, True], [True, False]])
    old = torch.zeros(2, 2)
    # ratio 1: the plain policy gradient, -mean A over the three tokens
    assert policy_loss(old, old, old, A, mask).item() == pytest.approx(-(1 + 2 - 3) / 3)
    # ratio 2, eps 0.2: positive advantages are clipped to 1.2 A, negative ones keep 2 A
    logp = torch.full((2, 2), math.log(2.0))
    got = policy_loss(logp, old, logp, A, mask, clip_ratio=0.2).item()
    assert got == pytest.approx(-(1.2 * 1 + 1.2 * 2 + 2 * -3) / 3)
    # a KL term adds kl_coef times the mean k3 over the same tokens
    with_kl = policy_loss(logp, old, old, A, mask, 0.2, kl_coef=0.5).item()
    assert with_kl == pytest.approx(got + 0.5 * k3_at(2.0))


def k3_at(ratio: float) -> float:
    """k3 with pi / ref = ratio: d = log(1 / ratio); e^d - d - 1."""
    d = math.log(1 / ratio)
    return math.exp(d) - d - 1


def test_k3_is_zero_at_the_reference_and_positive_elsewhere():
    lp = torch.tensor([-1.0, -2.0])
    assert k3(lp, lp).abs().max() == 0
    got = k3(torch.tensor([math.log(2.0)]), torch.tensor([0.0])).item()
    assert got == pytest.approx(k3_at(2.0)) and got == pytest.approx(0.5 - math.log(0.5) - 1)


def test_no_update_without_a_nonzero_advantage_or_a_kl_term():
    mask = torch.tensor([[True, False]])
    assert not should_learn(torch.tensor([[0.0, 3.0]]), mask, 0.0)  # the 3 is masked out
    assert should_learn(torch.tensor([[0.0, 3.0]]), mask, 0.1)
    assert should_learn(torch.tensor([[0.5, 0.0]]), mask, 0.0)
    assert not should_learn(torch.tensor([[1.0, 1.0]]), mask & False, 0.1)


def test_total_reward_adds_the_first_step_return_or_the_token_rewards():
    s = RLSettings(w_outcome=0.5, w_process=2.0)
    outcome = torch.tensor([1.0, 0.0])
    G = torch.tensor([[0.5, 1.0], [0.25, 0.0]])
    assert total_reward(outcome, Rewards(returns=G), s).tolist() == [1.5, 0.5]
    tok = torch.tensor([[0.1, 0.1], [0.0, -0.5]])
    assert total_reward(outcome, Rewards(token_r=tok), s).tolist() == pytest.approx([0.9, -1.0])
    assert total_reward(outcome, Rewards(), s).tolist() == [1.0, 0.0]


def test_metrics_row_counts_steps_noops_and_repeats():
    def roll(steps, status, correct, n_tok):
        gen = Generation("", steps, list(range(n_tok)))
        return Rollout("p", "1", gen, steps, [0] * n_tok, correct, status)

    rolls = [
        roll(["a", "a", "b"], ["ok", "ok", "ok"], True, 3),  # one repeat
        roll(["c"], ["noop"], False, 1),
    ]
    batch = batch_of([[0, 1, 2], [0, -1, -1]], [3, 1])
    upd = Update(loss=0.123456, grad_norm=1.0, kl=0.01, entropy=2.0, learned=True)
    row = step_metrics(
        7,
        rolls,
        batch,
        torch.tensor([1.0, 0.0]),
        Rewards(metrics={"prm_mean": 0.333333}),
        torch.tensor([True, False]),
        upd,
        RLSettings(group_size=2),
    )
    assert row == {
        "step": 7,
        "accuracy": 0.5,
        "reward": 0.5,
        "steps_per_solution": 2.0,
        "tokens_per_solution": 2.0,
        "noop_frac": 0.25,
        "repeat_frac": 0.25,
        "wasted_frac": 0.5,
        "kl": 0.01,
        "entropy": 2.0,
        "loss": 0.12346,
        "grad_norm": 1.0,
        "kept_frac": 0.5,
        "all_wrong_groups": 0.0,
        "all_equal_groups": 0.0,
        "updated": True,
        "prm_mean": 0.33333,
    }
    args = (rolls, batch, torch.zeros(2), Rewards(), torch.tensor([True, True]), upd)
    assert step_metrics(8, *args, RLSettings(group_size=2))["all_wrong_groups"] == 1.0
