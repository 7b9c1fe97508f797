"""PAV progress rewards (Setlur et al. 2024): the maths against hand-computed tensors,
the prover's Monte Carlo values on a hand-built case, and a short RL run."""

import math

import pytest
import torch
from conftest import last_json, run_cli
from test_label_methods import PROMPT, OraclePolicy

from prmkit.data import Problem
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import Generation
from prmkit.rl.pav import ProverValues, best_of_k, pav_token_advantages, step_progress
from prmkit.rl.rollout import Rollout
from prmkit.rl.step import Rewards, total_reward
from prmkit.rl.trainer import RLSettings, train_rl
from prmkit.worlds import arithmetic


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_step_progress_is_the_change_in_value_and_zero_at_padding():
    values = torch.tensor([[0.5, 0.75, 0.25, 1.0], [0.5, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    got = step_progress(values, mask)
    assert torch.allclose(got, torch.tensor([[0.25, -0.5, 0.75], [-0.5, 0.0, 0.0]]))
    # each row telescopes to V_n - V_0
    assert torch.allclose(got.sum(1), torch.tensor([0.5, -0.5]))
    with pytest.raises(ValueError):
        step_progress(values[:, :3], mask)


def test_best_of_k_prover_succeeds_unless_all_k_fail():
    v = torch.tensor([0.0, 0.5, 1.0, 0.25])
    assert torch.allclose(best_of_k(v, 1), v)
    assert torch.allclose(best_of_k(v, 2), torch.tensor([0.0, 0.75, 1.0, 1 - 0.75**2]))
    with pytest.raises(ValueError):
        best_of_k(v, 0)


def test_token_advantages_add_alpha_times_the_step_progress_to_the_outcome_part():
    token_step = torch.tensor([[0, 0, 1, 1, 2], [0, 1, 1, -1, -1]])
    outcome = torch.tensor([1.0, 0.0])
    progress = torch.tensor([[0.5, 0.25, 0.25], [-0.5, 0.0, 0.0]])
    a = 1 / (math.sqrt(0.5) + 1e-6)  # GRPO on [1, 0]: (x - 0.5) / (unbiased std 0.7071)
    got = pav_token_advantages(token_step, outcome, progress, 2, "grpo", w_outcome=1.0, alpha=2.0)
    want = torch.tensor(
        [
            [0.5 * a + 1.0, 0.5 * a + 1.0, 0.5 * a + 0.5, 0.5 * a + 0.5, 0.5 * a + 0.5],
            [-0.5 * a - 1.0, -0.5 * a, -0.5 * a, 0.0, 0.0],
        ]
    )
    assert torch.allclose(got, want, atol=1e-5)
    # an all-wrong group: no outcome signal, the progress term alone
    got = pav_token_advantages(token_step, torch.zeros(2), progress, 2, "grpo", 1.0, 1.0)
    assert torch.allclose(got[1, :3], torch.tensor([-0.5, 0.0, 0.0]))


def test_total_reward_is_the_outcome_plus_alpha_times_the_summed_progress():
    s = RLSettings(reward="pav", w_outcome=1.0, pav_alpha=0.5)
    r = Rewards(torch.tensor([[0.25, 0.25], [-1.0, 0.0]]))
    assert torch.allclose(total_reward(torch.tensor([1.0, 0.0]), r, s), torch.tensor([1.25, -0.5]))


def roll(steps, correct):
    g = Generation("", steps, [], [], True)
    return Rollout(PROMPT, "32", g, steps, [], correct)


def test_prover_values_on_a_hand_built_case():
    """The oracle prover finishes any error-free prefix right (p = 1) and fails after an
    error, so V_h is 1 up to the first error and 0 from it: the progress is -1 at the
    first wrong step and 0 elsewhere. A finished solution's last value is its grade."""
    prover = OraclePolicy(1.0)
    pv = ProverValues(prover, k=3, max_new_tokens=40)
    rolls = [
        roll(["7+5=12", "12*3=36", "36-4=32", "Answer: 32"], True),
        roll(["7+5=12", "12*3=35", "35-4=31", "Answer: 31"], False),
        roll(["7+5=12", "12*3=36"], False),  # cut off: its last prefix is rolled out
    ]
    mask = torch.tensor([[True] * 4, [True] * 4, [True, True, False, False]])
    values, cost = pv.values(rolls, 4, seed=0)
    assert values.tolist() == [
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [1.0, 1.0, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0, 1.0],
    ]
    # shared prefixes are estimated once: (), (7+5=12,), (7+5=12, 12*3=36), then
    # 36-4=32 (row 0), 12*3=35 and 35-4=31 (row 1); the two finished ones cost nothing
    assert cost["prover_prefixes"] == 8 and cost["prover_rollouts"] == 6 * 3
    prog, m = pv.progress(rolls, mask, seed=0)
    assert prog.tolist() == [[0, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 0]]
    assert m["pav_mean"] == pytest.approx(-1 / 10)
    # a Best-of-2 prover of a p = 0.5 oracle: V = 1 - 0.5^2 only if the k draws say 0.5
    half = ProverValues(OraclePolicy(0.5), k=64, max_new_tokens=40, best_of=2)
    v, _ = half.values(rolls[2:], 2, seed=0)
    assert 0.6 < float(v[0, 0]) < 0.9


PROBLEMS = [Problem.from_dict(d) for d in arithmetic.generate(32, seed=3)]


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_pav_run_changes_the_weights_with_a_finite_loss(tiny_policy):
    """A tiny policy that is never right: outcome-only GRPO has nothing to learn from,
    while the prover's progress (-1 at a first wrong step) still moves the weights."""
    pol = BuiltinPolicy.load(tiny_policy)
    before = _params(pol.model)
    s = RLSettings(
        reward="pav",
        steps=2,
        prompts_per_step=4,
        group_size=2,
        pav_rollouts=2,
        max_new_tokens=30,
        eval_every=0,
        lr=1e-3,
        warmup=0,
    )
    _, rows = train_rl(pol, PROBLEMS, s, progress=False, prover=OraclePolicy(1.0))
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert all(r["prover_rollouts"] > 0 and r["pav_mean"] < 0 for r in rows)
    assert any(r["updated"] for r in rows)
    moved = sum(float((a - b.detach()).abs().sum()) for a, b in zip(before, pol.model.parameters()))
    assert moved > 0
    with pytest.raises(ValueError, match="prover"):
        train_rl(BuiltinPolicy.load(tiny_policy), PROBLEMS, s, progress=False)


def test_rl_command_takes_pav_flags(tiny_policy, tmp_path, capsys):
    out = tmp_path / "o"
    args = ["rl", "--policy", tiny_policy, "--reward", "pav", "--prover", tiny_policy]
    args += ["--pav-alpha", 0.5, "--pav-rollouts", 2, "--steps", 1, "--out", out]
    args += ["--prompts-per-step", 2, "--group-size", 2, "--n-problems", 8, "--n-eval", 0]
    args += ["--max-new-tokens", 24, "--no-progress"]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["reward"] == "pav" and summary["credit"] is None
    row = [x for x in (out / "metrics.jsonl").read_text().splitlines() if x][-1]
    assert '"prover_rollouts"' in row and '"all_wrong_groups"' in row
