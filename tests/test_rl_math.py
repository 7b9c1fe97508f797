"""Advantages, filters, PRIME's maths and step boundaries against hand-computed values."""

import math

import pytest
import torch

from prmkit.rl import advantages as A
from prmkit.rl import prime as P
from prmkit.rl.filtering import accuracy_band, prof_select
from prmkit.rl.rollout import token_steps


def close(a, b, tol=1e-5):
    torch.testing.assert_close(a, torch.tensor(b, dtype=torch.float32), rtol=tol, atol=tol)


def test_grpo_and_rloo_outcome():
    x = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # groups of 3: [1,0,0], [1,1,1]
    s = math.sqrt(1 / 3)  # unbiased std of [1,0,0]: var = (4/9+1/9+1/9)/2 = 1/3
    close(A.grpo_advantages(x, 3), [(2 / 3) / s, (-1 / 3) / s, (-1 / 3) / s, 0, 0, 0], 1e-4)
    close(A.grpo_advantages(x, 3, scale=False), [2 / 3, -1 / 3, -1 / 3, 0, 0, 0])
    # RLOO: 1 - mean(0,0) = 1 ; 0 - mean(1,0) = -0.5
    close(A.rloo_advantages(x, 3), [1.0, -0.5, -0.5, 0, 0, 0])
    with pytest.raises(ValueError):
        A.grpo_advantages(x, 4)
    with pytest.raises(ValueError):
        A.rloo_advantages(x[:1], 1)


def test_step_advantages_grpo_pools_the_group():
    G = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    M = torch.tensor([[True, True], [True, False]])
    # one group of 2: real returns 1, 3, 2 -> mean 2, unbiased std 1
    close(A.step_advantages(G, M, 2, "grpo"), [[-1.0, 1.0], [0.0, 0.0]], 1e-4)


def test_step_advantages_rloo_uses_other_solutions_means():
    G = torch.tensor([[1.0, 3.0], [2.0, 0.0], [4.0, 4.0]])
    M = torch.tensor([[True, True], [True, False], [True, True]])
    # per-solution means: 2, 2, 4. baselines: (2+4)/2=3, (2+4)/2=3, (2+2)/2=2
    close(A.step_advantages(G, M, 3, "rloo"), [[-2.0, 0.0], [-1.0, 0.0], [2.0, 2.0]])


def test_token_advantages_combine_outcome_and_process():
    tstep = torch.tensor([[0, 0, 1, -1], [0, 1, 1, 1]])
    a_o = torch.tensor([1.0, -1.0])
    a_p = torch.tensor([[0.5, -0.5], [2.0, 3.0]])
    close(
        A.token_advantages(tstep, a_o, a_p, 1.0, 2.0), [[2.0, 2.0, 0.0, 0.0], [3.0, 5.0, 5.0, 5.0]]
    )
    close(A.token_advantages(tstep, a_o, None), [[1.0, 1.0, 1.0, 0.0], [-1.0, -1.0, -1.0, -1.0]])


def test_mixed_advantages_by_hand():
    tstep = torch.tensor([[0, 1, -1], [0, 0, 1]])
    out = torch.tensor([1.0, 0.0])  # one group of 2: RLOO outcome advantages +1, -1
    close(A.mixed_advantages(tstep, out, None, None, 2, "rloo"), [[1, 1, 0], [-1, -1, -1]])
    G = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # mean returns 1 and 0.5
    M = torch.ones(2, 2, dtype=torch.bool)
    # process: [1 - 0.5, 1 - 0.5], [0 - 1, 1 - 1]; tokens 0.5 * outcome + 2 * process
    want = [[0.5 + 1.0, 0.5 + 1.0, 0.0], [-0.5 - 2.0, -0.5 - 2.0, -0.5 + 0.0]]
    close(A.mixed_advantages(tstep, out, G, M, 2, "rloo", 0.5, 2.0), want)


def test_accuracy_band():
    c = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]])
    assert accuracy_band(c, 0.2, 0.8).tolist() == [False, True, False, True]
    assert accuracy_band(c, 0.25, 0.5).tolist() == [False, True, False, True]
    assert accuracy_band(c, 0.3, 1.0).tolist() == [True, False, False, True]


def test_prof_select_keeps_consistent_samples_balanced():
    correct = torch.tensor(
        [[True, True, True, False, False, False], [True, True, True, True, True, False]]
    )
    pm = torch.tensor([[0.9, 0.2, 0.7, 0.1, 0.8, 0.3], [0.5, 0.9, 0.1, 0.8, 0.7, 0.6]])
    keep = prof_select(correct, pm, 4)
    # row 0: 3 correct of 6 -> keep 2 correct (0.9, 0.7) and 2 wrong (0.1, 0.3)
    assert keep[0].tolist() == [True, False, True, True, False, True]
    # row 1: 5/6 correct -> round(4*5/6)=3 correct (0.9, 0.8, 0.7), 1 wrong (the only one)
    assert keep[1].tolist() == [False, True, False, True, True, True]
    # all correct: the top-4 by process value
    allc = prof_select(torch.ones(1, 6, dtype=torch.bool), pm[:1], 4)
    assert allc[0].tolist() == [True, False, True, False, True, True]
    assert (keep.sum(1) == 4).all()
    with pytest.raises(ValueError):
        prof_select(correct, pm, 7)


def test_implicit_rewards_values_and_loss():
    lp_phi = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, 0.0]])
    lp_ref = torch.tensor([[-1.5, -1.0, -0.5], [-2.0, -1.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    r = P.masked_token_rewards(lp_phi, lp_ref, 0.1, mask)
    close(r, [[0.05, -0.1, 0.0], [0.1, 0.0, 0.0]])
    # BCE(sigma(sum r), o): sums -0.05 (o=0) and 0.1 (o=1)
    want = (-math.log(1 - 1 / (1 + math.exp(0.05))) - math.log(1 / (1 + math.exp(-0.1)))) / 2
    assert float(P.implicit_prm_loss(r, mask, torch.tensor([0.0, 1.0]))) == pytest.approx(
        want, rel=1e-5
    )


def test_prime_advantages_by_hand():
    # group of 2; sample 0: tokens r=[0.2, 0.4] (mean 0.3), o=1; sample 1: r=[0.1] (mean 0.1), o=0
    r = torch.tensor([[0.2, 0.4], [0.1, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    o = torch.tensor([1.0, 0.0])
    out = P.prime_advantages(r, mask, o, 2, whiten=False)
    # sample 0: r - 0.1 = [0.1, 0.3] -> returns [0.4, 0.3]; outcome 1 - 0 = 1 on every token
    # sample 1: r - 0.3 = [-0.2] -> return [-0.2]; outcome 0 - 1 = -1
    close(out, [[1.4, 1.3], [-1.2, 0.0]])
    # with gamma 0.5: sample 0 process [0.1 + 0.15, 0.3], outcome [0.5, 1]
    close(P.prime_advantages(r, mask, o, 2, gamma=0.5, whiten=False), [[0.75, 1.3], [-1.2, 0.0]])
    w = P.prime_advantages(r, mask, o, 2)
    vals = w[mask]
    assert abs(float(vals.mean())) < 1e-6 and float(vals.std()) == pytest.approx(1.0, rel=1e-4)
    assert w[1, 1] == 0


def test_token_steps_char_level():
    pieces = list("7+5=12\n12*3=36\nAnswer: 36\n") + [""]
    idx, steps = token_steps(pieces)
    assert steps == ["7+5=12", "12*3=36", "Answer: 36"]
    assert idx[:7] == [0] * 7  # "7+5=12" and its newline
    assert idx[7:15] == [1] * 8
    assert idx[15:] == [2] * (len(pieces) - 15)  # the answer, its newline and EOS
    # blank lines and leading spaces belong to the step they follow
    idx, steps = token_steps(list("\n a\n\nb"))
    assert steps == ["a", "b"] and idx == [0, 0, 0, 0, 0, 1]
    # no step at all
    assert token_steps(["", "\n"]) == ([0, 0], [""])
    # multi-character tokens (a BPE tokenizer)
    idx, steps = token_steps(["7+5", "=12\n", "Answer", ": 12", "\n"])
    assert steps == ["7+5=12", "Answer: 12"] and idx == [0, 0, 1, 1, 1]
