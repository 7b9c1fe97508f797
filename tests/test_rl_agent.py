"""RL over multi-turn trajectories: the observation mask, each turn-credit wiring on a
hand-built batch, and `prmkit rl --world toolqa` end to end on a tiny agent."""

from __future__ import annotations

import json
import math

import pytest
import torch
from prmkit_test_helpers import last_json, run_cli

from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.data.turns import Turn, loss_mask, render_turns, split_step
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.checkpoint import load_state
from prmkit.models.generator import Generation
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.implicit import step_sums
from prmkit.rl import credit
from prmkit.rl.rollout import Batch, PolicyAdapter, token_logprobs
from prmkit.rl.settings import RLSettings
from prmkit.rl.step import Rewards, clip_ranges, credit_returns, policy_loss, token_advantages
from prmkit.rl.turn_prm import online_loss, turn_log_ratio_rewards
from prmkit.rl.turns import TurnRollout, action_positions, grounded, turn_batch
from prmkit.worlds import toolqa as T

Q = T.generate(1, seed=0, difficulty=T.Difficulty(1, 1, 0.0))[0]


def _rollout(steps: list[str], prompt: str = Q["prompt"]) -> TurnRollout:
    turns = [split_step(s) for s in steps]
    gen = Generation("", steps)
    return TurnRollout(prompt, Q["answer"], gen, steps, [], False, [], turns)


def _tiny(block: int = 192) -> BuiltinPolicy:
    torch.manual_seed(0)
    return BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, block, 1, 2, 32))


# --- the observation mask -------------------------------------------------------------


def test_action_positions_are_the_loss_mask_of_data_turns():
    turns = [Turn("search[Ann]", "P1 Ann"), Turn("answer[3]", "done")]
    text, spans = render_turns("q?", turns)
    pos, turn = action_positions(text, spans)
    mask = loss_mask([(i, i + 1) for i in range(len(text))], spans)
    assert pos == [i for i, m in enumerate(mask) if m]
    assert "".join(text[i] for i in pos) == "search[Ann]answer[3]"
    assert turn == [0] * len("search[Ann]") + [1] * len("answer[3]")


def test_turn_batch_holds_whole_episodes_and_marks_the_action_tokens_only():
    pol = _tiny()
    r = _rollout(T.solve(Q["prompt"]))
    b = turn_batch(pol, [r, _rollout(T.solve(Q["prompt"])[:1])])
    text, _ = render_turns(r.prompt, r.turns)
    assert pol.decode(b.ids[0, b.attn[0]].tolist()) == text  # observations are context
    n = int(b.token_mask[0].sum())
    acts = pol.decode(b.gen_ids[0, :n].tolist())
    assert acts == "".join(t.action for t in r.turns)
    assert b.token_step[0, :n].tolist() == [k for k, t in enumerate(r.turns) for _ in t.action]
    assert b.step_mask.tolist() == [[True] * 3, [True, False, False]]
    assert b.gen_ids[1, b.token_mask[1]].tolist() == pol.encode(r.turns[0].action)


def test_an_observation_token_gets_zero_gradient():
    """The loss's gradient reaches the logits that predict action tokens, never those
    that predict an observation token (the log-probs, the KL and the entropy use the
    same mask)."""
    pol = _tiny()
    r = _rollout(T.solve(Q["prompt"]))
    b = turn_batch(pol, [r])
    ad = PolicyAdapter(pol)
    kept = {}

    def logits(model, ids, attn):
        out = pol.logits(ids, attn, model)
        out.retain_grad()
        kept["x"] = out
        return out

    ad.logits = logits
    logp = token_logprobs(ad, pol.model, b)
    A = torch.ones_like(logp)
    policy_loss(logp, logp.detach(), logp.detach(), A, b.token_mask, 0.2, 0.1).backward()
    g = kept["x"].grad[0].abs().sum(-1)  # (L,): position j's logits predict token j + 1
    text, spans = render_turns(r.prompt, r.turns)
    mask = loss_mask([(i, i + 1) for i in range(len(text))], spans)
    for i, is_action in enumerate(mask):  # text char i is token i + 1, predicted at i
        assert (g[i] > 0) == is_action, (i, text[i])
    assert sum(mask) == int(b.token_mask.sum())


# --- each credit wiring on 2 tasks x 2 trajectories ----------------------------------

TOKEN_STEP = [
    [0, 0, 1, 1, 2, 2],  # task A, trajectory 0: 3 turns of 2 action tokens
    [0, 0, 1, 1, -1, -1],  # task A, trajectory 1: 2 turns
    [0, -1, -1, -1, -1, -1],  # task B, trajectory 2: 1 turn of 1 token
    [0, 1, -1, -1, -1, -1],  # task B, trajectory 3: 2 turns of 1 token
]
OUTCOME = torch.tensor([1.0, 0.0, 0.0, 1.0])
R = torch.tensor([[1.0, 0.5, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 1.0, 0.0]])


def _batch() -> Batch:
    ts = torch.tensor(TOKEN_STEP)
    mask = torch.tensor([[k < n for k in range(3)] for n in (3, 2, 1, 2)])
    z = torch.zeros_like(ts)
    return Batch(z, z.bool(), z, z, ts >= 0, ts, mask)


def _settings(**kw) -> RLSettings:
    base = dict(reward="prm", advantage="rloo", group_size=2, w_outcome=1.0, w_process=1.0)
    return RLSettings(**(base | kw))


def _tokens(rows: list[list[float]]) -> torch.Tensor:
    """Per-token values from per-row lists, 0 at padding."""
    return torch.tensor([r + [0.0] * (6 - len(r)) for r in rows])


def _wire(s: RLSettings):
    """The reward stage's wiring: returns (and clip factors), per-token returns and
    the token advantages of the advantage stage."""
    b = _batch()
    r = torch.where(b.step_mask, R, 0.0)
    G, clip = credit_returns(s, r, b.step_mask, OUTCOME)
    rew = Rewards(r, G, None, {}, clip)
    A = token_advantages(b, OUTCOME, rew, torch.ones(4, dtype=torch.bool), 2, s)
    return G, clip, credit.tokens_from_steps(G, b.token_step), A


def test_outcome_only_gives_every_action_token_its_rloo_outcome_advantage():
    s = _settings(reward="outcome")
    A = token_advantages(_batch(), OUTCOME, Rewards(), torch.ones(4, dtype=torch.bool), 2, s)
    # RLOO with n = 2: o_i - o_j, i.e. +1, -1 (task A) and -1, +1 (task B)
    want = _tokens([[1.0] * 6, [-1.0] * 4, [-1.0], [1.0, 1.0]])
    torch.testing.assert_close(A, want)


def test_min_form_turn_credit_per_token():
    G, clip, tok, A = _wire(_settings(credit="min"))
    assert clip is None
    # G_k = min over turns k.. of r: rows [0.5, 0.5, 1], [0, 0], [0], [0.5, 1]
    torch.testing.assert_close(
        tok, _tokens([[0.5, 0.5, 0.5, 0.5, 1, 1], [0, 0, 0, 0], [0.0], [0.5, 1]])
    )
    # RLOO over turns: G_bk minus the other trajectory's mean return (2/3, 0, 0, 0.75)
    # plus the outcome's RLOO advantage (+1, -1, -1, +1)
    want = _tokens(
        [[1.5, 1.5, 1.5, 1.5, 2, 2], [-5 / 3] * 4, [-1.75], [1.5, 2.0]],
    )
    torch.testing.assert_close(A, want)


def test_sum_form_turn_credit_per_token():
    _, _, tok, A = _wire(_settings(credit="sum"))
    # G_k = sum of r from turn k on: [2.5, 1.5, 1], [1, 0], [0], [1.5, 1]
    torch.testing.assert_close(
        tok, _tokens([[2.5, 2.5, 1.5, 1.5, 1, 1], [1, 1, 0, 0], [0.0], [1.5, 1]])
    )
    # other means: traj 0 sees traj 1's 0.5, traj 1 sees 5/3, traj 2 sees 1.25, traj 3 sees 0
    want = _tokens([[3, 3, 2, 2, 1.5, 1.5], [-5 / 3, -5 / 3, -8 / 3, -8 / 3], [-2.25], [2.5, 2]])
    torch.testing.assert_close(A, want)


def test_gated_turn_credit_counts_turn_rewards_of_successes_only():
    _, _, tok, _ = _wire(_settings(credit="gated", gate_threshold=1.0))
    # the sum form where the outcome is 1 (trajectories 0 and 3), 0 elsewhere
    torch.testing.assert_close(tok, _tokens([[2.5, 2.5, 1.5, 1.5, 1, 1], [0] * 4, [0.0], [1.5, 1]]))


def test_a2tgpo_turn_group_advantages_and_adaptive_clip():
    s = _settings(credit="a2tgpo", clip_beta=0.3, clip_ratio=0.2)
    G, clip, tok, A = _wire(s)
    h = 0.25 / (math.sqrt(0.125) + 1e-6)  # a (task, turn) cell of two values 0.25 apart
    # normalised turn rewards: [0, h, 0], [0, -h], [-h], [h, 0]; a cell of one is 0
    want_G = torch.tensor(
        [
            [h / math.sqrt(3), h / math.sqrt(2), 0],
            [-h / math.sqrt(2), -h, 0],
            [-h, 0, 0],
            [h / math.sqrt(2), 0, 0],
        ]
    )
    torch.testing.assert_close(G, want_G)
    a = want_G
    want_A = _tokens(
        [
            [1 + a[0, 0], 1 + a[0, 0], 1 + a[0, 1], 1 + a[0, 1], 1, 1],
            [-1 + a[1, 0]] * 2 + [-1 + a[1, 1]] * 2,
            [-1 + a[2, 0]],
            [1 + a[3, 0], 1.0],
        ]
    )
    torch.testing.assert_close(A, want_A)  # the outcome's RLOO advantage plus G, as is
    up = 1 + 0.3 * (2 * torch.sigmoid(torch.tensor(h)) - 1)
    down = 1 + 0.3 * (2 * torch.sigmoid(torch.tensor(-h)) - 1)
    eps = clip_ranges(0.2, clip, _batch().token_step)
    assert eps[0, 2].item() == pytest.approx(0.2 * up.item())  # turn 1 of trajectory 0
    assert eps[1, 2].item() == pytest.approx(0.2 * down.item())
    assert eps[0, 0].item() == pytest.approx(0.2)  # a normalised reward of 0: the base eps


def test_online_turn_rewards_sum_action_token_log_ratios_per_turn():
    """OPRL's r_t (SPA's c_t): beta times the summed log-ratio of turn t's action tokens."""
    b = _batch()
    lp_phi = torch.where(b.token_mask, -1.0, 0.0)
    lp_base = torch.where(b.token_mask, -1.5, 0.0)
    lp_base[0, 2] = -2.0  # trajectory 0, first token of turn 1
    r = turn_log_ratio_rewards(lp_phi, lp_base, b, beta=0.5)
    want = torch.tensor([[0.5, 0.75, 0.5], [0.5, 0.5, 0], [0.25, 0, 0], [0.25, 0.25, 0]])
    torch.testing.assert_close(r, want)
    # OPRL: pairs (0 over 1) in task A and (3 over 2) in task B; totals 1.75, 1.0, 0.25, 0.5
    dpo = (
        -(
            torch.nn.functional.logsigmoid(torch.tensor(0.75))
            + torch.nn.functional.logsigmoid(torch.tensor(0.25))
        )
        / 2
    )
    assert online_loss("oprl", r, b.step_mask, OUTCOME, 2).item() == pytest.approx(dpo.item())
    # SPA: mean of (sum_t c_t - R)^2 = (0.75^2 + 1^2 + 0.25^2 + 0.5^2) / 4
    spa = (0.75**2 + 1 + 0.25**2 + 0.5**2) / 4
    assert online_loss("spa", r, b.step_mask, OUTCOME, 2).item() == pytest.approx(spa)
    # OPRL's step-level advantage uses each turn's own reward: --credit delta gives G_k = r_k
    G, _ = credit_returns(_settings(reward="oprl", credit="delta"), r, b.step_mask, OUTCOME)
    torch.testing.assert_close(G, r)


def test_oprl_learns_to_prefer_the_successful_trajectory():
    """A few OPRL updates on one (success, failure) pair: the DPO loss falls and the
    success's summed implicit turn reward rises above the failure's."""
    from prmkit.rl.turn_prm import OnlineTurnPRM

    pol = _tiny()
    good = _rollout(T.solve(Q["prompt"]))
    bad_steps, _ = T.corrupt(Q["prompt"], __import__("random").Random(0), "early")
    b = turn_batch(pol, [good, _rollout(bad_steps)])
    ad = PolicyAdapter(pol)
    with torch.no_grad():
        base = token_logprobs(ad, pol.model, b)
    prm = OnlineTurnPRM(ad, "oprl", beta=0.5, lr=1e-2, group_size=2)
    outcome = torch.tensor([1.0, 0.0])
    losses = [prm.update(b, outcome, base) for _ in range(5)]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)  # pi_phi = pi_old: margin 0
    assert losses[-1] < losses[0]
    r = prm.turn_values(b, base)
    assert r[0].sum() > r[1].sum()
    assert (r[~b.step_mask] == 0).all()


def test_spa_grounding_is_one_for_executable_actions():
    r = _rollout(["search[Gafe Fuge] => P1 X", "get[P9, age] => error: no entity 'P9'"])
    assert grounded([r], 3).tolist() == [[1.0, 0.0, 0.0]]


def test_step_sums_put_no_observation_token_in_a_turn():
    b = _batch()
    ones = torch.where(b.token_mask, 1.0, 0.0)
    assert step_sums(ones, b.token_step, 3).tolist() == [[2, 2, 2], [2, 2, 0], [1, 0, 0], [1, 1, 0]]


# --- prmkit rl --world toolqa end to end ---------------------------------------------


@pytest.fixture(scope="module")
def tiny_agent(tmp_path_factory):
    """A tiny agent trained by SFT on one 1-hop question until it sometimes solves it."""
    gcfg = GPTConfig(CharTokenizer().vocab_size, 192, 1, 2, 32)
    s = AgentSFTSettings(steps=150, batch_size=8, lr=1e-2, warmup=5, mistake_rate=0.3)
    pol, _ = train_agent_policy([Q["prompt"]], gcfg, s, progress=False)
    d = tmp_path_factory.mktemp("agent")
    pol.save(d / "agent", {"world": "toolqa", "max_turns": 4})
    (d / "q.jsonl").write_text(json.dumps(Q) + "\n")
    return d


FIELDS = ("success", "turns_per_trajectory", "noop_turns", "kl", "entropy", "all_equal_groups")


@pytest.mark.parametrize(
    "flags",
    [
        ["--reward", "outcome"],
        ["--reward", "prm", "--prm", "rule", "--credit", "min"],
        ["--reward", "prm", "--prm", "rule:toolqa", "--credit", "sum"],
        ["--reward", "prm", "--credit", "gated"],
        ["--reward", "prm", "--credit", "a2tgpo", "--epochs", "2"],
        ["--reward", "spa", "--credit", "sum", "--spa-grounding", "0.5"],
        ["--reward", "oprl", "--credit", "delta"],
        ["--reward", "pav", "--pav-rollouts", "2"],
    ],
    ids=lambda f: " ".join(f[1::2]),
)
def test_rl_world_toolqa_end_to_end(tiny_agent, tmp_path, capsys, flags):
    out = tmp_path / "rl"
    args = ["rl", "--world", "toolqa", "--policy", tiny_agent / "agent", "--out", out]
    args += ["--problems", tiny_agent / "q.jsonl", "--eval-problems", tiny_agent / "q.jsonl"]
    args += ["--steps", "3", "--prompts-per-step", "2", "--group-size", "4", "--lr", "1e-3"]
    args += ["--warmup", "0", "--max-new-tokens", "80", "--n-eval", "1", "--eval-every", "3"]
    args += ["--eval-samples", "0", "--save-every", "0", "--no-progress", "--seed", "1"]
    code, stdout, err = run_cli(args + flags, capsys)
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["command"] == "rl" and summary["reward"] == flags[1]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "success" in r]
    assert len(train) == 3 and "eval_accuracy" in rows[-1]
    for r in train:
        assert all(k in r for k in FIELDS) and math.isfinite(r["loss"])
        assert r["success"] == r["accuracy"] and 0 <= r["all_equal_groups"] <= 1
    assert any(r["updated"] for r in train)
    before = load_state(tiny_agent / "agent")
    after = load_state(out / "policy")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (out / "rl_turns.png").exists() and (out / "rl_groups.png").exists()
    assert json.loads((out / "policy" / "config.json").read_text())["world"] == "toolqa"


def test_rl_world_toolqa_refuses_a_single_pass_policy(tiny_policy, tmp_path, capsys):
    code, _, err = run_cli(
        ["rl", "--world", "toolqa", "--policy", tiny_policy, "--out", tmp_path / "o"], capsys
    )
    assert code == 2 and "agent train" in err
