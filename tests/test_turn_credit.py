"""Turn-level credit functions against hand-computed tensors."""

import math

import pytest
import torch

from prmkit.rl.turn_credit import (
    adaptive_clip_scale,
    gated_returns,
    implicit_turn_rewards,
    preference_pairs,
    rescaled_accumulation,
    spa_loss,
    spa_rewards,
    trajectory_dpo_loss,
    turn_group_normalize,
)

T = torch.tensor


def test_gated_returns_count_turn_rewards_only_for_successes():
    r = T([[1.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    mask = T([[True, True, True], [True, True, False]])
    got = gated_returns(r, mask, outcome=T([1.0, 0.0]), threshold=1.0)
    # row 0 passes: reverse cumulative sums 2.5, 1.5, 1.0; row 1 fails: all 0
    assert torch.equal(got, T([[2.5, 1.5, 1.0], [0.0, 0.0, 0.0]]))


def test_gated_returns_threshold_and_discount():
    r = T([[1.0, 1.0]])
    mask = T([[True, True]])
    assert torch.allclose(gated_returns(r, mask, T([0.6]), 0.5, gamma=0.5), T([[1.5, 1.0]]))
    assert torch.equal(gated_returns(r, mask, T([0.4]), 0.5), T([[0.0, 0.0]]))


def test_spa_loss_is_squared_gap_between_summed_contributions_and_outcome():
    c = T([[0.25, 0.5, 9.0], [0.5, 0.5, 0.0]])
    mask = T([[True, True, False], [True, True, False]])
    # sums 0.75 and 1.0 (padding ignored); outcomes 1 and 0: ((-0.25)^2 + 1^2) / 2
    assert spa_loss(c, mask, T([1.0, 0.0])).item() == pytest.approx((0.0625 + 1.0) / 2)


def test_spa_rewards_mix_contribution_and_grounding():
    c = T([[0.2, 0.4]])
    g = T([[1.0, 0.0]])
    mask = T([[True, False]])
    assert torch.allclose(spa_rewards(c, mask, g, alpha=2.0, beta=0.5), T([[0.9, 0.0]]))
    assert torch.allclose(spa_rewards(c, mask), T([[0.2, 0.0]]))


def test_turn_group_normalize_compares_turns_at_the_same_depth():
    # one group of 3 trajectories; turn 0 values 1, 2, 3; turn 1 only in rows 0 and 1
    x = T([[1.0, 10.0], [2.0, 20.0], [3.0, 0.0]])
    mask = T([[True, True], [True, True], [True, False]])
    got = turn_group_normalize(x, mask, n=3, eps=0.0)
    # turn 0: mean 2, unbiased std 1 -> -1, 0, 1; turn 1: mean 15, std sqrt(50)
    s = math.sqrt(50.0)
    assert torch.allclose(got, T([[-1.0, -5.0 / s], [0.0, 5.0 / s], [1.0, 0.0]]))


def test_turn_group_normalize_single_member_cell_and_groups():
    x = T([[5.0, 1.0], [7.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    mask = T([[True, True], [True, False], [True, True], [True, True]])
    got = turn_group_normalize(x, mask, n=2, eps=0.0)
    # group 0: turn 0 is 5, 7 (mean 6, std sqrt(2)); turn 1 has one member -> 0
    r2 = math.sqrt(2.0)
    assert torch.allclose(got[:2], T([[-1.0 / r2, 0.0], [1.0 / r2, 0.0]]))
    # group 1: all equal -> 0
    assert torch.equal(got[2:], torch.zeros(2, 2))
    with pytest.raises(ValueError):
        turn_group_normalize(x, mask, n=3)


def test_rescaled_accumulation_divides_by_sqrt_of_terms():
    x = T([[1.0, 1.0, 1.0, 1.0], [2.0, -1.0, 0.0, 0.0]])
    mask = T([[True, True, True, True], [True, True, False, False]])
    got = rescaled_accumulation(x, mask)
    want = T([[4 / 2.0, 3 / math.sqrt(3), 2 / math.sqrt(2), 1.0], [1 / math.sqrt(2), -1.0, 0, 0]])
    assert torch.allclose(got, want)


def test_adaptive_clip_scale_bounds():
    got = adaptive_clip_scale(T([0.0, 100.0, -100.0, 1.0]), beta=0.3)
    s = 1 / (1 + math.exp(-1.0))
    assert torch.allclose(got, T([1.0, 1.3, 0.7, 1 + 0.3 * (2 * s - 1)]))


def test_implicit_turn_rewards_and_dpo_loss():
    lp_phi = T([[-1.0, -2.0], [-3.0, -1.0]])
    lp_old = T([[-2.0, -2.0], [-1.0, -1.0]])
    mask = T([[True, True], [True, False]])
    r = implicit_turn_rewards(lp_phi, lp_old, mask, beta=0.5)
    assert torch.allclose(r, T([[0.5, 0.0], [-1.0, 0.0]]))
    pairs = preference_pairs(T([1.0, 0.0]), n=2)
    assert pairs.tolist() == [[0, 1]]
    # margin = 0.5 - (-1.0) = 1.5
    loss = trajectory_dpo_loss(r, mask, pairs)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-1.5))))


def test_preference_pairs_within_groups_only():
    o = T([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    pairs = preference_pairs(o, n=3)
    # group 0 (rows 0-2): 0 beats 1 and 2; group 1 (rows 3-5): all equal, no pair
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (0, 2)]
    empty = preference_pairs(T([1.0, 1.0]), n=2)
    assert empty.shape == (0, 2)
    r = torch.zeros(2, 1, requires_grad=True)
    assert trajectory_dpo_loss(r, torch.ones(2, 1, dtype=torch.bool), empty).item() == 0.0


def test_dpo_gradient_raises_the_preferred_trajectory():
    lp_phi = torch.zeros(2, 2, requires_grad=True)
    mask = torch.ones(2, 2, dtype=torch.bool)
    r = implicit_turn_rewards(lp_phi, torch.zeros(2, 2), mask)
    trajectory_dpo_loss(r, mask, preference_pairs(T([1.0, 0.0]), 2)).backward()
    # d/d(lp) of -log sigmoid(m) at m = 0 is -0.5 for the preferred, +0.5 for the rejected
    assert torch.allclose(lp_phi.grad, T([[-0.5, -0.5], [0.5, 0.5]]))
