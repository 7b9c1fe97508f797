"""The built-in agent keeps each episode's KV cache across turns: same trajectories."""

import pytest
import torch

from prmkit.agents import builtin
from prmkit.agents.builtin import builtin_agent
from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams
from prmkit.models.gpt import GPTConfig
from prmkit.models.kv_resume import RowCache, prefill_resumed, reuse_length, sample_resumed
from prmkit.models.sampling import sample
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import toolqa as T

QS = [p["prompt"] for p in T.generate(6, seed=5, difficulty=T.Difficulty(2, 3, 0.5))]


@pytest.fixture(scope="module")
def trained():
    """A GPT agent trained for a few seconds, so episodes run several turns."""
    torch.manual_seed(0)
    train = [p["prompt"] for p in T.generate(64, seed=0, difficulty=T.Difficulty(1, 2, 0.0))]
    cfg = GPTConfig(CharTokenizer().vocab_size, 256, 2, 2, 32)
    s = AgentSFTSettings(steps=120, batch_size=8, lr=1e-2, mistake_rate=0, noop_rate=0)
    return train_agent_policy(train, cfg, s, progress=False)[0]


def test_resumed_prefill_equals_a_full_prefill():
    torch.manual_seed(1)
    pol = BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, 96, 2, 2, 16))
    texts = ["kb 1. From Ab\nsearch[Ab] => P1", "kb 22. Q\n", "kb 3. From Xy follow home\n"]
    ids = [pol.prompt_ids(t) for t in texts]
    cut = [12, 0, 20]  # what an earlier turn cached: a prefix of each (none for row 1)
    start0, rows0 = prefill_resumed(
        pol.model, [None] * 3, [i[:c] or i[:1] for i, c in zip(ids, cut)], 0, 0
    )
    pasts = [rows0[0], None, rows0[2]]
    assert [reuse_length(p, i) for p, i in zip(pasts, ids)] == [12, 0, 20]
    start, rows = prefill_resumed(pol.model, pasts, ids, 0, 0)
    full = pol.model(torch.tensor([ids[0]]))[0, -1]
    assert torch.allclose(start.logits[0], full, atol=1e-5)
    for b, i in enumerate(ids):
        ref = pol.model(torch.tensor([i]))[0, -1]
        assert torch.allclose(start.logits[b], ref, atol=1e-5)
        assert rows[b].ids == i and rows[b].k.shape[2] == len(i)
    # Resampling from the kept caches gives what sampling from scratch gives.
    args = (20, {2}, 0, 1.0, 1.0, None)
    fresh = sample(pol.model, ids, *args, row_seeds=[1, 2, 3])
    resumed = sample_resumed(pol.model, pasts, ids, *args, row_seeds=[1, 2, 3])
    assert fresh[0] == resumed[0] and fresh[2] == resumed[2]
    assert isinstance(resumed[3][0], RowCache)


@pytest.mark.parametrize("temperature,seed", [(0.0, 0), (1.0, 1), (1.0, 2), (1.0, 3)])
def test_agent_trajectories_with_and_without_the_kv_cache(trained, temperature, seed):
    params = SamplingParams(n=2, max_new_tokens=150, temperature=temperature, seed=seed)
    with_cache = builtin_agent(trained, max_turns=6, action_tokens=24, kv_cache=True)
    without = builtin_agent(trained, max_turns=6, action_tokens=24, kv_cache=False)
    a, b = with_cache.generate(QS, params), without.generate(QS, params)
    turns = 0
    for ga, gb in zip(a, b):
        for x, y in zip(ga, gb):
            assert x.text == y.text and x.token_ids == y.token_ids and x.finished == y.finished
            assert x.logprobs == pytest.approx(y.logprobs, abs=1e-4)
            turns += len(x.steps)
    assert turns >= 2 * len(QS) * 2  # several turns per episode: the cache was reused


def test_kept_caches_past_the_byte_budget_are_re_read(trained, monkeypatch):
    monkeypatch.setattr(builtin, "KV_BYTES", 1)  # only the first episode's cache is kept
    params = SamplingParams(n=1, max_new_tokens=150, temperature=1.0, seed=9)
    a = builtin_agent(trained, max_turns=6, action_tokens=24).generate(QS[:3], params)
    b = builtin_agent(trained, max_turns=6, action_tokens=24, kv_cache=False).generate(
        QS[:3], params
    )
    assert [g[0].text for g in a] == [g[0].text for g in b]
    assert sum(len(g[0].steps) for g in a) >= 6
