"""An encoder PRM's scoring pass that skips work the step-causal mask and the head make
useless: the last layer is computed at the step tags only, and attention skips the
blocks of keys the mask hides. Exact: the same arithmetic on fewer rows and keys (equal
to the plain pass up to float rounding; tests/test_prm_encoder_tags.py, 1e-5 on a tiny
random BertModel).

**The last layer at the tags.** The head reads the last hidden state at each step's
tag and nowhere else. In a BERT layer (post-LayerNorm, Devlin et al. 2019,
arXiv:1810.04805; the layer of Vaswani et al. 2017, arXiv:1706.03762) a position's
output depends on its own input (the residuals), its own query, and the keys and values
of the positions it may attend to. So in the last layer, with x: (B, T, d) its input
and x_t: (B, Q, d) the rows of x at a row's Q tags,

    K = x W_K + b_K,  V = x W_V + b_V                      every position   (B, T, d)
    q = x_t W_Q + b_Q                                      tags only        (B, Q, d)
    a = LN(softmax(q K^T / sqrt(d_h) + M_t) V W_O + b_O + x_t)              (B, Q, d)
    h_t = LN(gelu(a W_1 + b_1) W_2 + b_2 + a)                               (B, Q, d)

per head for the attention, M_t the rows of the step-causal mask at the tags. The last
layer then costs its K and V projections (2 d^2 per token of its 6 d^2 + 2 d d_ff plus
attention): with MiniLM's 6 layers about a seventh of the pass.

**Attention by blocks** (`Layout`). In a window the problem and the context come first
(group -1, P positions), then the steps in order, so the groups rise along the row. The
P first queries attend to exactly the P first keys (no mask needed); a block of step
queries [r0, r1) attends to keys [0, e) at most, e the end of the group of query r1 - 1;
padding queries are skipped (their outputs are never read). On the first 100 solutions
of each ProcessBench file, attention then reads 75% of the (query, key) pairs of the
plain pass. A row whose groups do not rise is attended whole under its mask.

For inference (eval mode, no dropout). Under int8 quantization (`encoder_quant`) the
layers' Linears are the quantized ones, as in the plain pass, except the tag rows' Q,
output and feed-forward Linears of the last layer (a few rows per window), which run in
fp32 from the layers' fp32 weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCK = 128
"""step queries per attention block"""


@dataclass
class Layout:
    """Where each row's attention can skip work (see module doc).

    prefix[b]: group -1 positions at the start of row b (0: none, or groups not rising);
    blocks[b]: (r0, r1, e) step-query blocks and the keys [0, e) they may read;
    bias: (B, 1, T, T) float, 0 where the mask allows, -inf elsewhere.
    """

    prefix: list[int]
    blocks: list[list[tuple[int, int, int]]]
    bias: torch.Tensor


def layout(step_of: torch.Tensor, real: torch.Tensor, allowed: torch.Tensor) -> Layout:
    """The Layout of a right-padded batch: step_of (B, T) groups, real (B, T) bool,
    allowed (B, 1, T, T) bool, the step-causal mask."""
    bias = torch.zeros(allowed.shape, dtype=torch.float32, device=allowed.device)
    bias.masked_fill_(~allowed, float("-inf"))
    prefix, blocks = [], []
    for g, n in zip(step_of.cpu(), real.sum(1).tolist()):
        g = g[:n]
        if n and bool((g[1:] >= g[:-1]).all()):
            p = int((g < 0).sum())
            ends = torch.searchsorted(g, g, right=True).tolist()  # end of each group
            rows = range(p, n, BLOCK)
            blocks.append([(r, min(r + BLOCK, n), ends[min(r + BLOCK, n) - 1]) for r in rows])
        else:
            p = 0
            blocks.append([(0, n, n)] if n else [])
        prefix.append(p)
    return Layout(prefix, blocks, bias)


def block_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lay: Layout, scale: float
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v by the blocks of `lay`; (B, H, T, dh) each.
    Padding queries get 0."""
    out = torch.zeros_like(q)
    for b, p in enumerate(lay.prefix):
        r = slice(b, b + 1)  # 4-D slices: PyTorch's fused CPU kernel (3-D ones are not)
        if p:
            out[r, :, :p] = F.scaled_dot_product_attention(
                q[r, :, :p], k[r, :, :p], v[r, :, :p], scale=scale
            )
        for r0, r1, e in lay.blocks[b]:
            out[r, :, r0:r1] = F.scaled_dot_product_attention(
                q[r, :, r0:r1],
                k[r, :, :e],
                v[r, :, :e],
                attn_mask=lay.bias[r, :, r0:r1, :e],
                scale=scale,
            )
    return out


def _heads(y: torch.Tensor, H: int) -> torch.Tensor:
    """(B, L, H * dh) -> (B, H, L, dh)."""
    B, L, D = y.shape
    return y.view(B, L, H, D // H).transpose(1, 2)


def _merge(y: torch.Tensor) -> torch.Tensor:
    """(B, H, L, dh) -> (B, L, H * dh)."""
    B, H, L, dh = y.shape
    return y.transpose(1, 2).reshape(B, L, H * dh)


def _linear(mod: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`mod`'s affine map in fp32 from its `weight` and `bias` (nn.Linear, or a quantized
    Linear that keeps them)."""
    return F.linear(x, mod.weight, mod.bias)


def layer_forward(layer: nn.Module, x: torch.Tensor, lay: Layout) -> torch.Tensor:
    """A BertLayer (eval mode) over (B, T, d) x, attention by blocks: equal to
    layer(x, mask) at the real positions."""
    att = layer.attention.self
    H = att.num_attention_heads
    q, k, v = (_heads(lin(x), H) for lin in (att.query, att.key, att.value))
    ctx = _merge(block_attention(q, k, v, lay, att.scaling))
    so = layer.attention.output
    a = so.LayerNorm(so.dense(ctx) + x)
    return layer.output.LayerNorm(layer.output.dense(layer.intermediate(a)) + a)


def last_layer_at(layer: nn.Module, x: torch.Tensor, bias: torch.Tensor, at: torch.Tensor):
    """A BertLayer's output at positions `at` only (see module doc).

    x: (B, T, d) the layer's input; bias: (B, 1, T, T) additive mask (0 allowed, -inf
    not); at: (B, Q) long positions (a row's padding slots may repeat any position).
    Returns (B, Q, d), equal to layer(x, mask)[b, at[b]].
    """
    att = layer.attention.self
    H = att.num_attention_heads
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    x_t = x[rows, at]  # (B, Q, d)
    k, v = _heads(att.key(x), H), _heads(att.value(x), H)
    q = _heads(_linear(att.query, x_t), H)
    m = bias[rows, 0, at][:, None]  # (B, 1, Q, T)
    ctx = _merge(F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=att.scaling))
    so, inter, out = layer.attention.output, layer.intermediate, layer.output
    a = so.LayerNorm(_linear(so.dense, ctx) + x_t)
    f = inter.intermediate_act_fn(_linear(inter.dense, a))
    return out.LayerNorm(_linear(out.dense, f) + a)


def tag_states(
    bert: nn.Module,
    ids: torch.Tensor,
    lay: Layout,
    tag_at: torch.Tensor,
    tag_valid: torch.Tensor,
) -> torch.Tensor:
    """(N, d) last hidden states of a BertModel (eval mode) at the tags, row-major (the
    order of `last_hidden_state[tags]` under the mask `lay` was made from).

    ids: (B, T) long; lay: `layout(...)` of the batch; tag_at: (B, Q) long, each row's
    tag positions ascending, padded with any position; tag_valid: (B, Q) bool.
    """
    h = bert.embeddings(input_ids=ids)
    layers = bert.encoder.layer
    for layer in layers[:-1]:
        h = layer_forward(layer, h, lay)
    return last_layer_at(layers[-1], h, lay.bias, tag_at)[tag_valid]
