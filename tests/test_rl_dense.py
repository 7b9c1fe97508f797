"""Token-level process rewards (prmkit.rl.dense) against hand-computed tensors."""

import torch

from prmkit.rl import credit
from prmkit.rl.dense import dense_rewards, place_on_tokens, return_increments, step_end_tokens

# two responses: 4 steps ending on tokens 1, 3, 5, 7 (T = 9, token 8 padding);
# 2 steps ending on tokens 2 and 4 (tokens 5.. padding)
TOKEN_STEP = torch.tensor(
    [
        [0, 0, 1, 1, 2, 2, 3, 3, -1],
        [0, 0, 0, 1, 1, -1, -1, -1, -1],
    ]
)
R = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.9, 0.6, 0.0, 0.0]])
MASK = torch.tensor([[True, True, True, True], [True, True, False, False]])
LAST = torch.tensor([7, 4])


def sums_to_go(x: torch.Tensor) -> torch.Tensor:
    return x.flip(1).cumsum(1).flip(1)


def test_return_increments_telescope():
    g = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.6, 0.6, 0.0, 0.0]])
    d = return_increments(g, MASK)
    assert torch.equal(d, torch.tensor([[0.0, -1.0, 0.0, 1.0], [0.0, 0.6, 0.0, 0.0]]))
    assert torch.allclose(sums_to_go(d), g)


def test_step_end_tokens_and_placement():
    ends = step_end_tokens(TOKEN_STEP, 4)
    assert torch.equal(ends, torch.tensor([[1, 3, 5, 7], [2, 4, -1, -1]]))
    vals = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    want = torch.tensor(
        [
            [0, 1, 0, 2, 0, 3, 0, 4, 0],
            [0, 0, 5, 0, 6, 0, 0, 0, 0],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(place_on_tokens(vals, ends, 9), want)


def test_min_form_with_outcome_by_hand():
    # min-form returns: row 0 min_{i>=k} [1, 0, 1, 1] = [0, 0, 1, 1]; row 1 [0.6, 0.6]
    # increments: [0, -1, 0, 1] and [0, 0.6]; outcome 0.5 * [0, 1] on the last token
    ends = step_end_tokens(TOKEN_STEP, 4)
    out = dense_rewards(R, MASK, ends, LAST, torch.tensor([0.0, 1.0]), 9, "min", w_outcome=0.5)
    want = torch.zeros(2, 9)
    want[0, 3], want[0, 7] = -1.0, 1.0
    want[1, 4] = 0.6 + 0.5
    assert torch.allclose(out, want)
    # every token's sum-to-go is its step's return plus the outcome
    g = credit.min_returns(R, MASK)
    per_token = credit.tokens_from_steps(g, TOKEN_STEP) + 0.5 * torch.tensor([[0.0], [1.0]])
    per_token = torch.where(TOKEN_STEP >= 0, per_token, 0.0)
    assert torch.allclose(sums_to_go(out), per_token)


def test_sum_delta_clip_by_hand():
    ends = step_end_tokens(TOKEN_STEP, 4)
    zero = torch.zeros(2)
    # sum (gamma 1): increments are the rewards themselves
    out = dense_rewards(R, MASK, ends, LAST, zero, 9, "sum")
    assert torch.allclose(out[0, [1, 3, 5, 7]], R[0]) and torch.allclose(out[1, [2, 4]], R[1, :2])
    # delta: returns are the step's own reward (G_k = r_k), increments r_k - r_{k+1}
    out = dense_rewards(R, MASK, ends, LAST, zero, 9, "delta")
    assert torch.allclose(out[0, [1, 3, 5, 7]], torch.tensor([1.0, -1.0, 0.0, 1.0]))
    assert torch.allclose(out[1, [2, 4]], torch.tensor([0.3, 0.6]))
    # clip (eta 1): rewards min(r - 1, 0) = [0, -1, 0, 0] and [-0.1, -0.4]
    out = dense_rewards(R, MASK, ends, LAST, zero, 9, "clip")
    assert torch.allclose(out[0, [1, 3, 5, 7]], torch.tensor([0.0, -1.0, 0.0, 0.0]))
    assert torch.allclose(out[1, [2, 4]], torch.tensor([-0.1, -0.4]))
    # process weight scales, an empty response (last -1) gets nothing
    out = dense_rewards(
        R[:1], MASK[:1], ends[:1], torch.tensor([-1]), torch.ones(1), 9, "sum", w_process=2.0
    )
    assert torch.allclose(out[0, [1, 3, 5, 7]], 2 * R[0]) and out[0, 8] == 0
