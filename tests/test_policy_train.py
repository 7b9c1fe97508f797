import random

import torch

from prmkit.models.gpt import GPTConfig
from prmkit.models.policy_train import (
    SFTSettings,
    batch_tensors,
    encode_example,
    make_solution,
    train_policy,
)
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import arithmetic


def test_targets_cover_only_the_solution():
    tok = CharTokenizer()
    prompt = "Start with 2, then +3."
    ids, start = encode_example(tok, prompt, ["2+3=5", "Answer: 5"])
    x, y = batch_tensors([(ids, start), (ids[:-3], start)], tok.pad_id)
    sup = (y[0] != -100).nonzero().squeeze(1)
    assert tok.decode(y[0, sup].tolist()) == "2+3=5\nAnswer: 5\n"
    assert y[0, sup[-1]] == tok.eos_id
    # inputs are targets shifted by one
    assert torch.equal(x[0, sup[1:]], y[0, sup[:-1]])
    assert (y[1, len(ids) - 4 :] == -100).all()


def test_mistake_mix_matches_rate():
    rng = random.Random(0)
    probs = arithmetic.generate(400, seed=0)
    wrong = sum(
        not arithmetic.grade(
            p["prompt"], p["answer"], make_solution(p["prompt"], rng, 0.4, 0.0)
        ).correct
        for p in probs
    )
    assert 0.33 < wrong / len(probs) < 0.47
    noop = sum(
        arithmetic.grade(p["prompt"], p["answer"], make_solution(p["prompt"], rng, 0.0, 1.0)).n_noop
        > 0
        for p in probs
    )
    assert noop > 0.8 * len(probs)


def test_sft_loss_falls_and_weights_change():
    prompts = [p["prompt"] for p in arithmetic.generate(100, seed=0)]
    cfg = GPTConfig(block_size=128, n_layer=1, n_head=2, d_model=32)
    torch.manual_seed(0)
    from prmkit.models.gpt import GPT

    before = GPT(cfg).state_dict()["blocks.0.qkv.weight"].clone()
    policy, log = train_policy(
        prompts, cfg, SFTSettings(steps=30, batch_size=16, lr=5e-3), progress=False
    )
    after = policy.model.state_dict()["blocks.0.qkv.weight"]
    assert log["loss_last"] < 0.85 * log["loss_first"]
    assert not torch.allclose(before, after)


def test_batch_holds_drill_rows_at_the_drill_fraction():
    from prmkit.models.policy_train import sft_batch

    tok = CharTokenizer()
    prompts = [p["prompt"] for p in arithmetic.generate(50, seed=0)]
    s = SFTSettings(batch_size=16, drill_fraction=0.25)
    ex = sft_batch(tok, prompts, random.Random(0), s, max_len=160)
    drills = [ids for ids, start in ex if start == 1]
    assert len(ex) == 16 and len(drills) == 4
    assert all(len(ids) <= 160 and tok.eos_id not in ids for ids in drills)
    text = tok.decode(drills[0][1:])
    assert "Answer" not in text and text.count("=") >= 5
    no_drill = sft_batch(
        tok, prompts, random.Random(0), SFTSettings(batch_size=16, drill_fraction=0), 160
    )
    assert all(start > 1 for _, start in no_drill)


def test_training_gives_the_same_weights_at_1_and_2_threads():
    prompts = [p["prompt"] for p in arithmetic.generate(100, seed=0)]
    cfg = GPTConfig(block_size=128, n_layer=2, n_head=2, d_model=64)
    s = SFTSettings(steps=4, batch_size=32, lr=5e-3)
    threads = torch.get_num_threads()
    states = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            policy, _ = train_policy(prompts, cfg, s, progress=False)
            states.append(policy.model.state_dict())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
