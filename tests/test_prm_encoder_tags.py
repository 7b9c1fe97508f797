"""The encoder PRM's scoring pass that skips unread work (prmkit.prm.encoder_tags): the
last layer at the step tags only and attention by blocks, against the full pass, on a
tiny random BertModel built in the test."""

import torch
from bert_tiny import build_tiny_bert
from test_prm_train import make_samples

from prmkit.prm.encoder import EncoderScorer, EncoderStepModel, step_causal_mask
from prmkit.prm.encoder_quant import quantize_encoder
from prmkit.prm.encoder_tags import (
    block_attention,
    last_layer_at,
    layer_forward,
    layout,
    tag_states,
)
from prmkit.prm.tagging import collate


def _bert(layers: int = 3):
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
        initializer_range=0.3,  # layers that change the states (0.02: nearly identity)
        attn_implementation="sdpa",
    )
    return BertModel(cfg).eval()


def _batch():
    """Two rows of different lengths: groups -1 (problem), 0, 1, 2; tags at step ends."""
    g = torch.tensor(
        [
            [-1, -1, -1, 0, 0, 0, 1, 1, 2, 2, 2, 2],
            [-1, -1, 0, 0, 1, 1, 1, -1, -1, -1, -1, -1],
        ]
    )
    real = torch.ones_like(g, dtype=torch.bool)
    real[1, 7:] = False
    ids = torch.randint(5, 50, g.shape, generator=torch.Generator().manual_seed(0))
    at = torch.tensor([[5, 7, 11], [3, 6, 0]])  # row 1 has 2 tags, slot 3 padding
    valid = torch.tensor([[True, True, True], [True, True, False]])
    return ids, g, real, step_causal_mask(g, real), at, valid


def test_layout_by_hand():
    _, g, real, mask, _, _ = _batch()
    lay = layout(g, real, mask)
    assert lay.prefix == [3, 2]
    # one block each (BLOCK rows); step queries read keys up to the end of their group
    assert lay.blocks == [[(3, 12, 12)], [(2, 7, 7)]]
    assert lay.bias[1, 0, 2].tolist()[:5] == [0, 0, 0, 0, float("-inf")]
    g = torch.tensor([[-1, 0, 0, 1, 1, 2, 2, 2]])
    small = layout(g, torch.ones_like(g, dtype=torch.bool), step_causal_mask(g, g >= -1))
    assert small.prefix == [1]
    # groups that do not rise: the whole row under its mask
    g = torch.tensor([[-1, 1, 0, -1]])
    back = layout(g, torch.ones_like(g, dtype=torch.bool), step_causal_mask(g, g >= -1))
    assert back.prefix == [0] and back.blocks == [[(0, 4, 4)]]


def test_block_attention_equals_masked_attention(monkeypatch):
    import prmkit.prm.encoder_tags as et

    monkeypatch.setattr(et, "BLOCK", 2)  # several blocks per row
    _, g, real, mask, _, _ = _batch()
    lay = layout(g, real, mask)
    assert len(lay.blocks[0]) == 5
    q, k, v = (torch.randn(2, 3, 12, 4) for _ in range(3))
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.5)
    got = block_attention(q, k, v, lay, 0.5)
    assert torch.allclose(got[0], want[0], atol=1e-6)
    assert torch.allclose(got[1, :, :7], want[1, :, :7], atol=1e-6)
    assert torch.equal(got[1, :, 7:], torch.zeros(3, 5, 4))  # padding queries skipped


def test_layers_equal_the_full_pass(monkeypatch):
    import prmkit.prm.encoder_tags as et

    monkeypatch.setattr(et, "BLOCK", 3)
    bert = _bert()
    ids, g, real, mask, at, valid = _batch()
    lay = layout(g, real, mask)
    rows = torch.arange(2)[:, None]
    with torch.no_grad():
        x = bert.embeddings(input_ids=ids)
        layer = bert.encoder.layer[0]
        full = layer(x, mask)
        full = full[0] if isinstance(full, tuple) else full
        blocks = layer_forward(layer, x, lay)
        tags = last_layer_at(layer, x, lay.bias, at)
        assert torch.allclose(blocks[real], full[real], atol=1e-5)
        assert torch.allclose(tags, full[rows, at], atol=1e-5)
        assert full[rows, at].std() > 0.1  # the states are not trivially equal
        last = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        got = tag_states(bert, ids, lay, at, valid)
    tagged = torch.zeros(ids.shape, dtype=torch.bool)
    tagged[rows.expand_as(at)[valid], at[valid]] = True
    assert got.shape == (5, 32)
    assert torch.allclose(got, last[tagged], atol=1e-5)
    assert (got - x[tagged]).abs().max() > 0.1  # every layer ran


def test_scorer_skip_unread_equals_the_full_pass_with_windows(tmp_path):
    bert_dir = build_tiny_bert(tmp_path / "bert")
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), context=4)
    torch.nn.init.normal_(m.head.weight, std=0.5)
    m.window = 40  # several windows per solution
    items = [(s.prompt, s.steps) for s in make_samples(16, seed=5)]
    full = EncoderScorer(m, max_tokens=200, skip_unread=False).logits(items)
    fast = EncoderScorer(m, max_tokens=200).logits(items)
    a, b = torch.tensor(sum(full, [])), torch.tensor(sum(fast, []))
    assert a.numel() == b.numel() > 40 and a.std() > 0.1
    assert torch.allclose(a, b, atol=1e-5)
    # the batches are the ones the full pass reads: one batch's tags in order
    rows = [t for p, st in items[:3] for t in m.windows(p, st)]
    batch = collate(rows, m.pad_id)
    want = EncoderScorer(m, skip_unread=False).batch_logits(batch)
    assert torch.allclose(
        torch.tensor(EncoderScorer(m).batch_logits(batch)), torch.tensor(want), atol=1e-5
    )


def test_int8_skip_unread_stays_close_to_int8_full(tmp_path):
    bert_dir = build_tiny_bert(tmp_path / "bert")
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), context=4)
    torch.nn.init.normal_(m.head.weight, std=0.5)
    m.window = 40
    items = [(s.prompt, s.steps) for s in make_samples(12, seed=6)]
    ref = torch.tensor(sum(EncoderScorer(m).score(items), []))
    q = quantize_encoder(m, "int8")
    full = torch.tensor(sum(EncoderScorer(q, skip_unread=False).score(items), []))
    fast = torch.tensor(sum(EncoderScorer(q).score(items), []))
    # the int8 K and V of the last layer are shared; its tag rows run in fp32
    assert (fast - full).abs().max() < 0.03
    assert (fast - ref).abs().max() < 0.03
    assert (fast - ref).abs().max() > 1e-6  # int8 ran (the hook set the row lengths)
