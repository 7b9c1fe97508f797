"""The implicit-PRM tensor functions against hand-computed tensors."""

import math

import torch

from prmkit.prm.implicit import (
    implicit_ce_loss,
    implicit_token_rewards,
    q_values,
    sequence_rewards,
    step_sums,
    token_logprobs,
)


def test_token_logprobs_by_hand():
    # vocab of 2; logits equal -> log 1/2; a strong preference -> log softmax
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [0.0, 0.0]]])  # (1, 3, 2)
    ids = torch.tensor([[1, 1, 0]])
    lp = token_logprobs(logits, ids)
    assert lp.shape == (1, 3)
    assert torch.allclose(lp, torch.tensor([[0.0, math.log(0.5), math.log(0.75)]]))


def test_token_rewards_step_sums_and_q_values_by_hand():
    logp_phi = torch.tensor([[-1.0, -1.0, -0.5, -2.0, -1.0], [-1.0, -3.0, -1.0, -1.0, 0.0]])
    logp_ref = torch.tensor([[-1.0, -2.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -2.0, 0.0]])
    r = implicit_token_rewards(logp_phi, logp_ref, beta=0.5)
    assert torch.allclose(
        r, torch.tensor([[0.0, 0.5, 0.25, -0.5, 0.0], [0.0, -1.0, 0.0, 0.5, 0.0]])
    )
    # row 0: token 0 is prompt, tokens 1-2 step 0, tokens 3-4 step 1; row 1: tokens 1-3 step 0, token 4 padding
    step_ids = torch.tensor([[-1, 0, 0, 1, 1], [-1, 0, 0, 0, -1]])
    s = step_sums(r, step_ids, n_steps=2)
    assert torch.allclose(s, torch.tensor([[0.75, -0.5], [-0.5, 0.0]]))
    assert torch.allclose(step_sums(r, step_ids), s)  # n_steps inferred
    assert torch.allclose(q_values(s), torch.tensor([[0.75, 0.25], [-0.5, -0.5]]))
    assert torch.allclose(sequence_rewards(r, step_ids), torch.tensor([0.25, -0.5]))


def test_step_sums_carries_gradients():
    r = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    step_sums(r, torch.tensor([[0, 1, 1]])).sum().backward()
    assert torch.equal(r.grad, torch.ones(1, 3))


def test_ce_loss_by_hand():
    r = torch.tensor([0.0, math.log(3.0)])  # sigmoid: 1/2 and 3/4
    y = torch.tensor([1.0, 0.0])
    want = -(math.log(0.5) + math.log(0.25)) / 2
    assert math.isclose(implicit_ce_loss(r, y).item(), want, rel_tol=1e-6)
    # the gradient pushes a correct solution's reward up and a wrong one's down
    r = r.clone().requires_grad_(True)
    implicit_ce_loss(r, y).backward()
    assert r.grad[0] < 0 < r.grad[1]
