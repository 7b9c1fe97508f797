"""prmkit's verl reward manager on a hand-built DataProto batch, through verl itself.

The tokenizer is byte-level with no merges (one token per character) and a ChatML
template, so the token that ends each step is known by counting characters, and the
expected reward tensors are written out by hand.
"""

import asyncio

import numpy as np
import pytest
import torch
from hf_tiny import build_chat_tokenizer

verl = pytest.importorskip("verl")

from verl import DataProto  # noqa: E402

from prmkit.rl.verl_reward import PrmkitRewardManager  # noqa: E402

P0 = "Start with 7, then +5, *3, -4."
R0 = "7+5=12\n12*3=35\n35-4=31\nAnswer: 31"  # step ends: tokens 6, 14, 22, 33 (the eos)
P1 = "Start with 3, then *2."
R1 = "3*2=6\nAnswer: 6"  # step ends: tokens 5, 15 (the eos)
T = 36  # response width, padding after the eos
KWARGS = {"prm": "local-rule", "credit": "min", "outcome_weight": 0.5}


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    t = build_chat_tokenizer(tmp_path_factory.mktemp("char-tok"), [P0, R0, P1, R1], vocab_size=262)
    assert len(t("Answer: 31", add_special_tokens=False)["input_ids"]) == 10  # no merges
    return t


def batch(tok) -> DataProto:
    """Two rows as verl's rollout leaves them: left-padded chat prompts, right-padded
    responses ending in eos, ground truths in reward_model, the question in extra_info
    for row 0 only (row 1's problem comes from the chat-templated prompt)."""
    prompts, responses = [], []
    for problem, response in [(P0, R0), (P1, R1)]:
        text = tok.apply_chat_template(
            [{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True
        )
        prompts.append(tok(text, add_special_tokens=False)["input_ids"])
        responses.append(tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
    P = max(len(p) for p in prompts)
    pad = tok.pad_token_id
    pr = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])
    rs = torch.tensor([r + [pad] * (T - len(r)) for r in responses])
    attn = torch.cat(
        [
            torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in prompts]),
            torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in responses]),
        ],
        1,
    )
    return DataProto.from_dict(
        tensors={
            "prompts": pr,
            "responses": rs,
            "input_ids": torch.cat([pr, rs], 1),
            "attention_mask": attn,
        },
        non_tensors={
            "data_source": np.array(["prmkit/arithmetic"] * 2, dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": "32"}, {"style": "rule", "ground_truth": "6"}],
                dtype=object,
            ),
            "extra_info": np.array([{"question": P0}, {"index": 1}], dtype=object),
        },
    )


def expected() -> torch.Tensor:
    """local-rule scores: row 0 [1, 0, 1, 1] (12*3=35 is wrong; the steps after it are
    right given 35), row 1 [1, 1]. Min-form returns [0, 0, 1, 1] and [1, 1]; increments
    [0, -1, 0, 1] and [0, 1] on the step ends. Outcome 0.5 * [0 (31 != 32), 1] on the eos."""
    want = torch.zeros(2, T)
    want[0, 14], want[0, 33] = -1.0, 1.0
    want[1, 15] = 1.0 + 0.5
    return want


def test_whole_batch_call_older_verl(tok):
    m = PrmkitRewardManager(tokenizer=tok, num_examine=0, compute_score=None, **KWARGS)
    out = m(batch(tok), return_dict=True)
    assert torch.equal(out["reward_tensor"], expected())
    assert out["reward_extra_info"] == {
        "prm_min": [0.0, 1.0],
        "outcome": [0.0, 1.0],
        "steps": [4, 2],
    }
    samples = m.responses(batch(tok))
    assert [s.problem for s in samples] == [P0, P1]  # row 1 from the chat template


def test_verl_09_loads_it_and_assembles_rm_scores(tok):
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import load_reward_manager

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {"path": None, "name": "compute_score"},
                "reward_manager": {
                    "source": "importlib",
                    "name": "PrmkitRewardManager",
                    "module": {"path": "pkg://prmkit.rl.verl_reward", "name": "unused"},
                },
                "reward_kwargs": KWARGS,
                "sandbox_fusion": None,
            },
            "data": {"reward_fn_key": "data_source"},
        }
    )
    m = load_reward_manager(config, tok, reward_router_address=None, reward_model_tokenizer=None)
    assert type(m).__name__ == "PrmkitRewardManager" and m.cfg.prm == "local-rule"
    data = batch(tok)

    # what verl's RewardLoopManager does: run_single per row, then assemble_rm_scores
    async def each_row():
        return await asyncio.gather(*[m.run_single(data[i : i + 1]) for i in range(len(data))])

    outs = asyncio.run(each_row())
    rm_scores = type(m).assemble_rm_scores(data, [o["reward_score"] for o in outs])
    assert torch.equal(rm_scores, expected())
    assert [o["reward_extra_info"]["outcome"] for o in outs] == [0.0, 1.0]


def test_reinforce_plus_plus_returns_are_the_step_returns(tok):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.core_algos import compute_reinforce_plus_plus_outcome_advantage

    data = batch(tok)
    rewards = PrmkitRewardManager(tokenizer=tok, **KWARGS)(data)
    mask = data.batch["attention_mask"][:, -T:].float()
    _, returns = compute_reinforce_plus_plus_outcome_advantage(
        rewards, mask, config=AlgoConfig(gamma=1.0)
    )
    # row 0: steps 0-1 (tokens 0..14) return 0, steps 2-3 (15..33) return 1; outcome 0
    want0 = torch.tensor([0.0] * 15 + [1.0] * 19 + [0.0] * 2)
    # row 1: both steps return 1, plus the outcome 0.5, on tokens 0..15
    want1 = torch.tensor([1.5] * 16 + [0.0] * 20)
    assert torch.allclose(returns, torch.stack([want0, want1]))


def test_verl_outcome_and_settings_errors(tok):
    calls = []

    def compute_score(data_source, solution_str, ground_truth, extra_info=None):
        calls.append((data_source, solution_str, ground_truth))
        return {"score": 1.0 if solution_str.endswith(ground_truth) else 0.0}

    m = PrmkitRewardManager(
        tokenizer=tok, compute_score=compute_score, outcome="verl", prm="rule", credit="sum"
    )
    out = m(batch(tok))
    assert calls == [("prmkit/arithmetic", R0, "32"), ("prmkit/arithmetic", R1, "6")]
    # rule: row 0 [1, 0, 0, 0], row 1 [1, 1]; sum credit: increments = rewards; outcome 1 * [0, 1]
    want = torch.zeros(2, T)
    want[0, 6] = 1.0
    want[1, 5], want[1, 15] = 1.0, 2.0
    assert torch.equal(out, want)
    with pytest.raises(ValueError, match="unknown prmkit reward setting"):
        PrmkitRewardManager(tokenizer=tok, credits="min")
    with pytest.raises(ValueError, match="credit must be one of"):
        PrmkitRewardManager(tokenizer=tok, credit="max")


def test_compute_score_takes_verls_reward_kwargs():
    """verl's loader wraps the function to pass `reward_kwargs` as keywords (before,
    a TypeError); settings and the world come through them."""
    from pathlib import Path

    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import prmkit.rl.integrations as I

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": str(Path(I.__file__)),
                    "name": "compute_score",
                    "reward_kwargs": {
                        "prm": "local-rule",
                        "aggregate": "mean",
                        "world": "arithmetic",
                    },
                }
            }
        }
    )
    fn = get_custom_reward_fn(config)
    got = fn(
        data_source="prmkit/arithmetic",
        solution_str=R0,
        ground_truth="32",
        extra_info={"question": P0},
    )
    assert got == pytest.approx((1 + 0 + 1 + 1) / 4 + 0.0)  # local-rule mean; 31 != 32
