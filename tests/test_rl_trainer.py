"""The RL trainer end to end: built-in and Hugging Face policies, CLI, PRIME, filters."""

import json

import pytest
import torch
from conftest import last_json, run_cli
from hf_tiny import build_tiny_hf

from prmkit.data import Problem
from prmkit.models.builtin import BuiltinPolicy
from prmkit.prm.base import RulePRM
from prmkit.rl.prime import OnlineImplicitPRM
from prmkit.rl.rollout import PolicyAdapter, make_batch, make_rollouts, token_logprobs
from prmkit.rl.trainer import RLSettings, RLTrainer, train_rl
from prmkit.worlds import arithmetic


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, above all on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


PROBLEMS = [Problem.from_dict(d) for d in arithmetic.generate(64, seed=3)]


class AsciiPRM:
    """A test scorer that varies even on a random model's bytes: the fraction of a
    step's characters that are ASCII letters or digits."""

    kind = "ascii"

    def score(self, items):
        return [
            [sum(c.isascii() and c.isalnum() for c in s) / max(len(s), 1) for s in steps]
            for _, steps in items
        ]


class DigitPRM:
    """A test scorer: a step's score is the fraction of its characters that are digits."""

    kind = "digits"

    def score(self, items):
        return [[sum(c.isdigit() for c in s) / max(len(s), 1) for s in steps] for _, steps in items]


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(before, model):
    return sum(float((a - b.detach()).abs().sum()) for a, b in zip(before, model.parameters()))


def _mean(rows, key, sl):
    vals = [r[key] for r in rows[sl]]
    return sum(vals) / len(vals)


def test_short_run_moves_weights_and_raises_reward(tiny_policy):
    """Easy setting: a dense, learnable process reward (digit fraction of each step) with
    Delta credit, i.e. each step is credited with its own score."""
    pol = BuiltinPolicy.load(tiny_policy)
    before = _params(pol.model)
    s = RLSettings(
        reward="prm",
        credit="delta",
        steps=24,
        prompts_per_step=8,
        group_size=4,
        lr=3e-3,
        warmup=1,
        w_outcome=0.0,
        max_new_tokens=40,
        eval_every=0,
        seed=1,
    )
    _, rows = train_rl(pol, PROBLEMS, s, DigitPRM(), progress=False)
    assert _changed(before, pol.model) > 0
    first, last = _mean(rows, "prm_mean", slice(0, 4)), _mean(rows, "prm_mean", slice(-4, None))
    assert last > first + 0.05, (first, last)
    assert all(r["loss"] == r["loss"] for r in rows)  # no NaN


def test_logprobs_match_sampling_and_reference_kl_starts_at_zero(tiny_policy):
    pol = BuiltinPolicy.load(tiny_policy)
    tr = RLTrainer(pol, RLSettings(reward="outcome", steps=1, group_size=2, max_new_tokens=30))
    from prmkit.models.generator import SamplingParams, continue_steps

    gens = continue_steps(
        pol, [(p.prompt, []) for p in PROBLEMS[:3]], SamplingParams(n=2, max_new_tokens=30, seed=0)
    )
    rolls = make_rollouts(tr.adapter, PROBLEMS[:3], gens, arithmetic)
    batch = make_batch(tr.adapter, rolls)
    lp = token_logprobs(tr.adapter, tr.model, batch)
    for b, r in enumerate(rolls):
        n = len(r.gen.token_ids)
        torch.testing.assert_close(lp[b, :n], torch.tensor(r.gen.logprobs), rtol=1e-4, atol=1e-4)
        assert r.steps == r.gen.steps or r.steps == [""]
    m = tr.step(PROBLEMS, 1)
    assert m["kl"] == pytest.approx(0.0, abs=1e-6)  # first batch: policy == reference
    for key in (
        "accuracy",
        "reward",
        "steps_per_solution",
        "noop_frac",
        "repeat_frac",
        "kl",
        "entropy",
    ):
        assert key in m


def test_sum_form_rewards_noop_steps_more_than_min_form(tiny_policy):
    """On the same rollouts, sum-form credit gives a correct solution padded with a no-op
    a higher advantage than the plain one; min-form gives both the same."""
    pol = BuiltinPolicy.load(tiny_policy)
    from prmkit.models.generator import Generation
    from prmkit.rl import advantages as A
    from prmkit.rl import credit as C

    p = PROBLEMS[0]
    plain = arithmetic.solve(p.prompt)
    padded = plain[:1] + [plain[0].split("=")[1] + "*1=" + plain[0].split("=")[1]] + plain[1:]
    ad = PolicyAdapter(pol)
    gens = [
        [
            Generation(
                "\n".join(s) + "\n", s, pol.tok.encode("\n".join(s) + "\n") + [pol.tok.eos_id]
            )
            for s in (plain, padded)
        ]
    ]
    rolls = make_rollouts(ad, [p], gens, arithmetic)
    assert rolls[0].correct and rolls[1].correct and rolls[1].n_noop == 1
    batch = make_batch(ad, rolls)
    r = torch.tensor([[1.0] * batch.step_mask.shape[1]] * 2) * batch.step_mask
    for name, differs in (("sum", True), ("min", False), ("clip", False), ("delta", False)):
        G = C.step_returns(name, r, batch.step_mask)
        a = A.step_advantages(G, batch.step_mask, 2)
        first = a[:, 0]
        assert bool(first[1] > first[0]) is differs, name


def test_prime_and_filters_run(tiny_policy):
    pol = BuiltinPolicy.load(tiny_policy)
    before = _params(pol.model)
    s = RLSettings(
        reward="prime",
        credit="sum",
        steps=2,
        prompts_per_step=4,
        group_size=4,
        band_low=0.0,
        band_high=1.0,
        max_new_tokens=30,
        eval_every=0,
    )
    _, rows = train_rl(pol, PROBLEMS, s, progress=False)
    assert all("prm_loss" in r for r in rows)
    # accuracy 0 everywhere: the band [0, 1] keeps everything, the outcome part is 0, the implicit part moves
    assert _changed(before, pol.model) > 0
    s = RLSettings(
        reward="prm",
        credit="min",
        filter="prof",
        prof_keep=2,
        steps=1,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=30,
        eval_every=0,
    )
    _, rows = train_rl(BuiltinPolicy.load(tiny_policy), PROBLEMS, s, DigitPRM(), progress=False)
    assert rows[0]["kept_frac"] == 0.5
    s = RLSettings(
        reward="outcome",
        filter="band",
        steps=1,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=30,
        eval_every=0,
    )
    _, rows = train_rl(BuiltinPolicy.load(tiny_policy), PROBLEMS, s, progress=False)
    assert (
        rows[0]["kept_frac"] == 0.0 and rows[0]["grad_norm"] == 0.0
    )  # all groups 0% correct: nothing to learn


def test_implicit_prm_is_a_step_scorer_and_learns(tiny_policy):
    pol = BuiltinPolicy.load(tiny_policy)
    ad = PolicyAdapter(pol)
    prm = OnlineImplicitPRM(ad, ad.frozen_copy(), beta=0.5, lr=1e-2)
    items = [(p.prompt, arithmetic.solve(p.prompt)) for p in PROBLEMS[:2]]
    v0 = prm.score(items)
    assert [len(v) for v in v0] == [len(s) for _, s in items]
    assert all(abs(x - 0.5) < 1e-4 for v in v0 for x in v)  # pi_phi == pi_ref: sigma(0)
    from prmkit.models.generator import Generation

    gens = [
        [Generation("", s, pol.tok.encode("\n".join(s) + "\n") + [pol.tok.eos_id])]
        for _, s in items
    ]
    rolls = make_rollouts(ad, PROBLEMS[:2], gens, arithmetic)
    batch = make_batch(ad, rolls)
    losses = [prm.update(batch, torch.tensor([1.0, 1.0])) for _ in range(5)]
    assert losses[-1] < losses[0]
    v1 = prm.score(items)
    assert v1[0][-1] > 0.5  # trained on correct labels: the full solutions now look correct


def test_cli_rl_writes_metrics_plots_and_policy(tiny_policy, tmp_path, capsys):
    out = tmp_path / "rl"
    code, stdout, err = run_cli(
        [
            "rl",
            "--policy",
            tiny_policy,
            "--reward",
            "prm",
            "--credit",
            "sum",
            "--steps",
            2,
            "--seed",
            0,
            "--out",
            out,
            "--prompts-per-step",
            4,
            "--group-size",
            2,
            "--n-problems",
            20,
            "--n-eval",
            4,
            "--eval-every",
            2,
            "--max-new-tokens",
            30,
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["command"] == "rl" and summary["steps"] == 2 and summary["credit"] == "sum"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["step"] == 0 and "eval_accuracy" in rows[0]
    assert [r["step"] for r in rows[1:]] == [1, 2] and "eval_accuracy" in rows[-1]
    for png in (
        "rl_accuracy.png",
        "rl_steps.png",
        "rl_waste.png",
        "rl_kl_entropy.png",
        "rl_reward.png",
    ):
        assert (out / png).stat().st_size > 1000
    assert BuiltinPolicy.load(out / "policy").model.cfg.d_model == 32


def test_cli_rl_bad_input(tiny_policy, tmp_path, capsys):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "a", "prompt": "not arithmetic", "answer": "1"}\n')
    code, _, err = run_cli(
        ["rl", "--policy", tiny_policy, "--out", tmp_path / "o", "--problems", bad], capsys
    )
    assert code == 2 and f"{bad}:1:" in err
    code, _, err = run_cli(
        ["rl", "--policy", tiny_policy, "--out", tmp_path / "o", "--group-size", 1], capsys
    )
    assert code == 2 and "group-size" in err
    code, _, err = run_cli(["rl", "--policy", tmp_path, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "config.json" in err


def _tiny_hf(tmp_path):
    from prmkit.models.steps import render

    corpus = [
        render(d["prompt"], arithmetic.solve(d["prompt"])) for d in arithmetic.generate(300, seed=1)
    ]
    return build_tiny_hf(tmp_path / "hf", corpus, vocab_size=200)


def test_hf_policy_same_trainer(tmp_path):
    from prmkit.models.hf import HFPolicy

    pol = HFPolicy.load(_tiny_hf(tmp_path))
    ad = PolicyAdapter(pol)
    assert ad.max_len == pol.model.config.max_position_embeddings  # its context length
    before = _params(pol.model)
    s = RLSettings(
        reward="prm",
        credit="min",
        steps=2,
        prompts_per_step=2,
        group_size=3,
        max_new_tokens=12,
        eval_every=0,
        lr=1e-3,
        warmup=1,
    )
    _, rows = train_rl(pol, PROBLEMS, s, AsciiPRM(), progress=False)
    assert _changed(before, pol.model) > 0
    assert rows[-1]["kl"] > 0 and rows[-1]["entropy"] > 0
    # the trainer's log-probs are the sampler's
    from prmkit.models.generator import SamplingParams, continue_steps

    gens = continue_steps(
        pol, [(PROBLEMS[0].prompt, [])], SamplingParams(n=2, max_new_tokens=10, seed=0)
    )
    rolls = make_rollouts(ad, PROBLEMS[:1], gens, arithmetic)
    lp = token_logprobs(ad, pol.model, make_batch(ad, rolls))
    for b, r in enumerate(rolls):
        torch.testing.assert_close(
            lp[b, : len(r.gen.logprobs)], torch.tensor(r.gen.logprobs), rtol=1e-3, atol=1e-3
        )
    # it saves as a Hugging Face folder again
    ad.save(tmp_path / "saved")
    assert HFPolicy.load(tmp_path / "saved").model.config.hidden_size == 32


def test_trainer_needs_a_scorer_for_prm(tiny_policy):
    with pytest.raises(ValueError):
        RLTrainer(BuiltinPolicy.load(tiny_policy), RLSettings(reward="prm"))
    with pytest.raises(ValueError):
        RLSettings(credit="max").check()


def test_rule_prm_rollouts_count_noops():
    pol = BuiltinPolicy.new()
    from prmkit.models.generator import Generation

    p = PROBLEMS[1]
    sol = arithmetic.solve(p.prompt)
    v = sol[0].split("=")[1]
    steps = [sol[0], f"{v}+0={v}", sol[0]] + sol[1:]
    text = "\n".join(steps) + "\n"
    rolls = make_rollouts(
        PolicyAdapter(pol),
        [p],
        [[Generation(text, steps, pol.tok.encode(text) + [pol.tok.eos_id])]],
        arithmetic,
    )
    r = rolls[0]
    assert r.steps == steps and r.n_noop == 2 and r.n_repeat == 1 and r.n_wasted == 2
    assert RulePRM().score([(p.prompt, steps)])[0] == [1.0] * len(steps)


def test_no_signal_no_update(tiny_policy):
    """All samples wrong under outcome reward: zero advantages, and Adam's momentum from
    an earlier step must not keep moving the weights."""
    pol = BuiltinPolicy.load(tiny_policy)
    s = RLSettings(
        reward="prm", credit="delta", prompts_per_step=4, group_size=4, max_new_tokens=30, lr=1e-2
    )
    tr = RLTrainer(pol, s, DigitPRM())
    assert tr.step(PROBLEMS, 1)["updated"]
    assert tr.opt.param_groups[0]["lr"] == pytest.approx(s.lr / s.warmup)  # linear warm-up
    tr.s.reward, tr.scorer = "outcome", None
    before = _params(pol.model)
    for i in range(2, 4):
        m = tr.step(PROBLEMS, i)
        assert m["accuracy"] == 0.0 and not m["updated"]
    assert _changed(before, pol.model) == 0


def test_rl_help_documents_trainer_settings(capsys):
    """`prmkit rl` takes the trainer's settings from RLSettings, with their docstrings."""
    import dataclasses

    from prmkit.commands.rl import Config, settings_from

    code, out, _ = run_cli(["rl", "--help"], capsys)
    out = " ".join(out.split())  # argparse wraps help text
    assert code == 0
    assert "--lr LR policy learning rate (AdamW)" in out
    assert "--warmup WARMUP" in out and "--policy POLICY" in out
    names = {f.name for f in dataclasses.fields(RLSettings)}
    assert names <= {f.name for f in dataclasses.fields(Config)}
    cfg = Config(policy="p", out="o", lr=3e-4, n_eval=7, eval_problems="held.jsonl")
    s = settings_from(cfg)
    assert type(s) is RLSettings and s.lr == 3e-4 and s.n_eval == 7
    code, _, err = run_cli(["rl", "--policy", "p", "--out", "o", "--world", "gsm8k"], capsys)
    assert code == 2 and "--world" in err  # the command handles arithmetic problems only


def test_cli_rl_outcome_reports_no_credit_method(tiny_policy, tmp_path, capsys):
    """Outcome-only rewards have no steps to credit: the summary says credit null."""
    args = ["rl", "--policy", tiny_policy, "--reward", "outcome", "--steps", 1]
    args += ["--prompts-per-step", 2, "--group-size", 2, "--n-problems", 4, "--n-eval", 0]
    args += ["--max-new-tokens", 20, "--out", tmp_path / "o", "--no-progress"]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["reward"] == "outcome" and summary["credit"] is None


def test_sample_draws_groups_without_an_update(tiny_policy):
    s = RLSettings(reward="outcome", prompts_per_step=3, group_size=4, seed=5)
    tr = RLTrainer(BuiltinPolicy.load(tiny_policy), s)
    before = _params(tr.model)
    rolls, batch = tr.sample(PROBLEMS, 1)
    assert len(rolls) == 12 and batch.token_mask.shape[0] == 12
    # Each group of 4 shares one prompt, as the group baselines assume.
    assert all(len({r.prompt for r in rolls[i : i + 4]}) == 1 for i in range(0, 12, 4))
    assert _changed(before, tr.model) == 0
    again, _ = RLTrainer(BuiltinPolicy.load(tiny_policy), s).sample(PROBLEMS, 1)
    assert [r.steps for r in again] == [r.steps for r in rolls]
