"""Every credit function against tensors computed by hand.

Two solutions throughout: row 0 has 4 steps, row 1 has 2 (then padding).
"""

import math

import pytest
import torch

from prmkit.rl import credit as C

R = torch.tensor([[0.9, 0.2, 0.6, 1.0], [0.5, 0.8, 7.0, 7.0]])  # 7.0 = padding, must be ignored
M = torch.tensor([[True, True, True, True], [True, True, False, False]])


def close(a, b):
    torch.testing.assert_close(a, torch.tensor(b, dtype=torch.float32), rtol=1e-5, atol=1e-6)


def test_outcome_returns():
    close(C.outcome_returns(torch.tensor([1.0, 0.0]), M), [[1, 1, 1, 1], [0, 0, 0, 0]])


def test_sum_returns_undiscounted_and_discounted():
    # row 0: 0.9+0.2+0.6+1.0=2.7, 0.2+0.6+1.0=1.8, 1.6, 1.0 ; row 1: 1.3, 0.8
    close(C.sum_returns(R, M), [[2.7, 1.8, 1.6, 1.0], [1.3, 0.8, 0, 0]])
    # gamma 0.5: G3=1, G2=0.6+0.5=1.1, G1=0.2+0.55=0.75, G0=0.9+0.375=1.275 ; row1: 0.5+0.4=0.9, 0.8
    close(C.sum_returns(R, M, 0.5), [[1.275, 0.75, 1.1, 1.0], [0.9, 0.8, 0, 0]])


def test_sum_form_rewards_extra_steps_min_form_does_not():
    """A no-op step that the PRM scores 1 raises the sum-form return, never the min."""
    base = torch.tensor([[0.9, 0.8, 0.0]])
    padded = torch.tensor([[0.9, 0.8, 0.0]])
    hacked = torch.tensor([[0.9, 1.0, 0.8]])  # one extra no-op step scored 1.0
    m2 = torch.tensor([[True, True, False]])
    m3 = torch.tensor([[True, True, True]])
    assert C.sum_returns(hacked, m3)[0, 0] > C.sum_returns(base, m2)[0, 0]
    assert C.min_returns(hacked, m3)[0, 0] == C.min_returns(padded, m2)[0, 0] == pytest.approx(0.8)


def test_min_returns():
    # row 0: min(0.9,0.2,0.6,1)=0.2, min(0.2,..)=0.2, min(0.6,1)=0.6, 1.0 ; row 1: 0.5, 0.8
    close(C.min_returns(R, M), [[0.2, 0.2, 0.6, 1.0], [0.5, 0.8, 0, 0]])


def test_softmin_rewards_by_hand():
    T = 0.5
    # row 1: weights softmax(-[0.5, 0.8]/0.5) = softmax([-1, -1.6])
    e1, e2 = math.exp(-1.0), math.exp(-1.6)
    w = [e1 / (e1 + e2), e2 / (e1 + e2)]
    out = C.softmin_rewards(R, M, T)
    torch.testing.assert_close(out[1], torch.tensor([w[0] * 0.5, w[1] * 0.8, 0.0, 0.0]))
    # row 0 weights sum to 1 over its 4 real steps
    ws = torch.softmax(-R[0] / T, 0)
    torch.testing.assert_close(out[0], ws * R[0])


def test_softmin_tends_to_min_and_to_mean():
    first = C.sum_returns(C.softmin_rewards(R, M, 1e-3), M)[:, 0]
    close(first, [0.2, 0.5])
    first = C.sum_returns(C.softmin_rewards(R, M, 1e4), M)[:, 0]
    torch.testing.assert_close(first, torch.tensor([2.7 / 4, 1.3 / 2]), rtol=1e-3, atol=1e-3)
    # PURE's form at T -> 0: the weakest step carries the min, later steps get ~0
    close(C.sum_returns(C.softmin_rewards(R, M, 1e-3), M), [[0.2, 0.2, 0.0, 0.0], [0.5, 0.0, 0, 0]])


def test_softmin_rejects_bad_temperature():
    with pytest.raises(ValueError):
        C.softmin_rewards(R, M, 0.0)


def test_clip_rewards_and_bounded_sum():
    # eta 0.7: min(r - 0.7, 0): row 0 -> 0, -0.5, -0.1, 0 ; row 1 -> -0.2, 0
    out = C.clip_rewards(R, M, 0.7)
    close(out, [[0.0, -0.5, -0.1, 0.0], [-0.2, 0.0, 0, 0]])
    assert (C.sum_returns(out, M) <= 0).all()  # the return can never grow with more steps
    close(
        C.step_returns("clip", R, M, C.CreditParams(eta=0.7)),
        [[-0.6, -0.6, -0.1, 0.0], [-0.2, 0.0, 0, 0]],
    )


def test_delta_rewards_telescope_to_the_step_score():
    out = C.delta_rewards(R, M)
    # row 0: 0.9-0.2=0.7, 0.2-0.6=-0.4, 0.6-1.0=-0.4, last keeps 1.0 ; row 1: 0.5-0.8=-0.3, 0.8
    close(out, [[0.7, -0.4, -0.4, 1.0], [-0.3, 0.8, 0, 0]])
    close(C.sum_returns(out, M), [[0.9, 0.2, 0.6, 1.0], [0.5, 0.8, 0, 0]])


def test_shaping_rewards():
    # Phi(s0)=0.5; row 0 values 0.9,0.2,0.6,1.0 with terminal potential 0 (gamma 1):
    # F = 0.9-0.5, 0.2-0.9, 0.6-0.2, 0-0.6 = 0.4, -0.7, 0.4, -0.6
    out = C.shaping_rewards(R, M, 1.0, 0.5)
    close(out, [[0.4, -0.7, 0.4, -0.6], [0.0, -0.5, 0, 0]])
    # telescoping: G_k = -Phi(s_k): -0.5, -0.9, -0.2, -0.6 ; row 1: -0.5, -0.5
    close(C.sum_returns(out, M), [[-0.5, -0.9, -0.2, -0.6], [-0.5, -0.5, 0, 0]])
    # keeping the last potential and gamma 0.5: F_i = 0.5*Phi_{i+1} - Phi_i
    out = C.shaping_rewards(R, M, 0.5, 0.0, terminal_zero=False)
    close(out, [[0.45, 0.1 - 0.9, 0.3 - 0.2, 0.5 - 0.6], [0.25, 0.4 - 0.5, 0, 0]])


def test_signed_and_mix():
    close(C.signed(torch.tensor([0.0, 0.5, 1.0])), [-1.0, 0.0, 1.0])
    proc = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    close(C.mix(proc, torch.tensor([1.0, 0.0]), 0.5, 2.0), [[2.5, 3.0], [1.5, 2.0]])
    close(C.mix(proc, proc, 1.0, 1.0), [[2.0, 4.0], [6.0, 8.0]])


def test_tokens_from_steps():
    G = torch.tensor([[10.0, 20.0, 30.0], [1.0, 2.0, 0.0]])
    tstep = torch.tensor([[0, 0, 1, 2, 2], [0, 1, 1, -1, -1]])
    close(C.tokens_from_steps(G, tstep), [[10, 10, 20, 30, 30], [1, 2, 2, 0, 0]])


def test_registry_and_padding_are_zero():
    for name in C.CREDIT:
        out = C.step_returns(name, R, M)
        assert out.shape == R.shape
        assert (out[1, 2:] == 0).all(), name
    with pytest.raises(ValueError):
        C.step_returns("max", R, M)
    with pytest.raises(ValueError):
        C.sum_returns(R, M[:, :2])
