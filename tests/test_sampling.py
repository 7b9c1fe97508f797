import torch

from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPT, GPTConfig, KVCache
from prmkit.models.sampling import _top_p_filter, left_pad, sample
from prmkit.models.tokenizer import CharTokenizer


def _model(seed=0):
    torch.manual_seed(seed)
    return GPT(
        GPTConfig(
            vocab_size=CharTokenizer().vocab_size, block_size=64, n_layer=2, n_head=2, d_model=32
        )
    ).eval()


def test_kv_cache_matches_full_forward_with_left_padding():
    m = _model()
    prompts = [[1, 20, 21, 22, 23, 24], [1, 30, 31], [1, 40, 41, 42, 43]]
    ids, mask = left_pad(prompts, 0)
    pos = (mask.long().cumsum(1) - 1).clamp(min=0)
    full = m(ids, key_mask=mask, pos=pos)
    cache = KVCache(m.cfg, 3, 10, torch.float32, "cpu")
    part = m(ids[:, :4], key_mask=mask[:, :4], pos=pos[:, :4], cache=cache)
    rest = torch.cat(
        [
            m(ids[:, t : t + 1], key_mask=mask[:, : t + 1], pos=pos[:, t : t + 1], cache=cache)
            for t in range(4, ids.shape[1])
        ],
        1,
    )
    both = torch.cat([part, rest], 1)
    real = mask[:, :, None].expand_as(full)
    torch.testing.assert_close(both[real], full[real], rtol=1e-4, atol=1e-5)
    # Each row equals the same prompt run alone, without padding.
    for b, p in enumerate(prompts):
        alone = m(torch.tensor([p]))[0]
        torch.testing.assert_close(full[b, -len(p) :], alone, rtol=1e-4, atol=1e-5)


def test_cached_and_naive_sampling_agree_greedy():
    m = _model(1)
    prompts = [[1, 20, 21, 22], [1, 30], [1, 40, 41, 42, 43, 44]]
    a = sample(m, prompts, 20, {2}, 0, temperature=0)
    b = sample(m, prompts, 20, {2}, 0, temperature=0, use_cache=False)
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1]):
        torch.testing.assert_close(torch.tensor(x), torch.tensor(y), rtol=1e-4, atol=1e-5)


def test_logprobs_are_the_models():
    m = _model(2)
    ids, lps, _ = sample(
        m, [[1, 20, 21]], 5, {2}, 0, temperature=1.0, generator=torch.Generator().manual_seed(0)
    )
    seq = torch.tensor([[1, 20, 21] + ids[0]])
    logp = m(seq).log_softmax(-1)[0, 2:-1].gather(1, torch.tensor(ids[0])[:, None]).squeeze(1)
    torch.testing.assert_close(torch.tensor(lps[0]), logp, rtol=1e-4, atol=1e-5)


def test_top_p_keeps_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(_top_p_filter(logits, 0.7))
    assert kept.tolist() == [[True, True, False, False]]
    assert torch.isfinite(_top_p_filter(logits, 0.1)).sum() == 1


def test_policy_seeded_and_step_stops(tiny_policy):
    pol = BuiltinPolicy.load(tiny_policy)
    items = [("Start with 7, then +5, *3, -4.", []), ("Start with 3, then *2.", ["3*2=6"])]
    a = continue_steps(pol, items, SamplingParams(n=3, seed=5))
    b = continue_steps(pol, items, SamplingParams(n=3, seed=5))
    assert [[g.text for g in x] for x in a] == [[g.text for g in x] for x in b]
    assert all(len(g.logprobs) == len(g.token_ids) for x in a for g in x)
    one = continue_steps(pol, items, SamplingParams(n=4, seed=1, stop_at_step=True))
    for gens in one:
        for g in gens:
            # one step: the text holds at most one separator, at its end
            assert "\n" not in g.text[:-1]
            assert len(g.steps) <= 1


def test_prefix_continuation_is_exact(tiny_policy):
    """The policy continues after exactly the rendered prefix: same text as a full render."""
    from prmkit.models.steps import render

    pol = BuiltinPolicy.load(tiny_policy)
    prefix = ["7+5=12", "12*3=36"]
    text = render("Start with 7, then +5, *3, -4.", prefix)
    assert text == "Start with 7, then +5, *3, -4.\n7+5=12\n12*3=36\n"
    enc = pol.prompt_ids(text)
    assert pol.tok.decode(enc) == text
