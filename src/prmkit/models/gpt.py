"""A small GPT in plain torch, with a KV cache for fast batched sampling.

Pre-norm transformer blocks, learned positions, tied embeddings (nanoGPT's recipe).
Left-padded batches are supported through per-row positions and a key padding mask,
so prompts of different lengths share one batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from prmkit.models.reproducible import LayerNorm


@dataclass
class GPTConfig:
    vocab_size: int = 104
    block_size: int = 160
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Preallocated keys and values: (n_layer, B, n_head, max_len, head_dim) each."""

    def __init__(self, cfg: GPTConfig, batch: int, max_len: int, dtype, device) -> None:
        hd = cfg.d_model // cfg.n_head
        shape = (cfg.n_layer, batch, cfg.n_head, max_len, hd)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.len = 0


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, mask, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            s = cache.len
            cache.k[layer, :, :, s : s + T] = k
            cache.v[layer, :, :, s : s + T] = v
            k, v = cache.k[layer, :, :, : s + T], cache.v[layer, :, :, : s + T]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.mlp(self.ln2(x)))

    def forward_at(self, x: torch.Tensor, at: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        """This block's output at positions `at` only: (B, Q, C) from x (B, T, C), at (B, Q);
        causal: (T, T) bool, True where a query may see a key.

        Queries, attention output and MLP are computed for the Q rows alone; keys and
        values still come from all T tokens, under the causal mask of each query's
        position. Equal to forward(x, causal)[b, at[b]] up to float rounding.
        """
        B, T, C = x.shape
        Q, hd = at.shape[1], C // self.n_head
        idx = at[:, :, None].expand(B, Q, C)
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        rows, q = x.gather(1, idx), q.gather(1, idx)
        q = q.view(B, Q, self.n_head, hd).transpose(1, 2)
        k, v = (t.view(B, T, self.n_head, hd).transpose(1, 2) for t in (k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal[at][:, None])
        rows = rows + self.drop(self.proj(y.transpose(1, 2).reshape(B, Q, C)))
        return rows + self.drop(self.mlp(self.ln2(rows)))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.block_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters()) - self.pos.weight.numel()

    def hidden(
        self,
        idx: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Final hidden states (B, T, d_model).

        idx: (B, T) token ids. key_mask: (B, S) bool, False at padding, S = keys so far
        (cache length + T). pos: (B, T) positions, default 0..T-1 (offset by the cache).
        """
        B, T = idx.shape
        past = cache.len if cache is not None else 0
        if pos is None:
            pos = torch.arange(past, past + T, device=idx.device).expand(B, T)
        if pos.max() >= self.cfg.block_size:
            raise ValueError(
                f"sequence of {int(pos.max()) + 1} tokens exceeds block_size {self.cfg.block_size}"
            )
        S = past + T
        q_idx = torch.arange(past, S, device=idx.device)
        mask = torch.arange(S, device=idx.device)[None, :] <= q_idx[:, None]  # (T, S) causal
        mask = mask[None, None]
        if key_mask is not None:
            # Each query may always see itself, so all-padding rows never produce NaN.
            mask = (
                mask & key_mask[:, None, None, :S]
                | torch.eye(S, device=idx.device, dtype=torch.bool)[past:][None, None]
            )
        x = self.tok(idx) + self.pos(pos)
        for i, blk in enumerate(self.blocks):
            x = blk(x, mask, cache, i)
        if cache is not None:
            cache.len += T
        return self.ln_f(x)

    def hidden_at(self, idx: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, Q, d_model) at positions `at` (B, Q) only.

        idx: (B, T) right-padded token ids (no cache). Every layer but the last runs on
        all T tokens, since later layers' keys need them; the last computes only the Q
        rows read (a PRM reads one tag per step, about 1 token in 15), which removes
        most of one layer's arithmetic. Equal to hidden(idx)[b, at[b]] up to rounding.
        """
        B, T = idx.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence of {T} tokens exceeds block_size {self.cfg.block_size}")
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
        for blk in self.blocks[:-1]:
            x = blk(x, causal[None, None])
        return self.ln_f(self.blocks[-1].forward_at(x, at, causal))

    def forward(self, idx, key_mask=None, pos=None, cache=None) -> torch.Tensor:
        """Logits (B, T, vocab)."""
        return self.head(self.hidden(idx, key_mask, pos, cache))


def count_params(cfg: GPTConfig) -> int:
    return GPT(cfg).n_params()
