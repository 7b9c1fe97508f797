"""Sampling that resumes from each row's kept KV cache: the built-in GPT across turns.

An agent's episode grows by appending (action, observation) to a text whose keys and
values were computed on the previous turn. `sample_resumed` takes, per row, the
`RowCache` kept from before (the token ids it covers and their keys and values),
reuses it up to the longest common prefix with the row's new token ids, and runs one
forward pass over the new tokens only, instead of re-reading the whole prefix. It
returns what `sampling.sample` returns plus each row's new `RowCache` (the prompt's
keys and values, before the sampled tokens), for the next turn.

Batch layout of the prefill, per row b: its reused keys left-padded to the longest
reuse R, then its new tokens left-padded to the longest suffix N, with a key mask
and explicit positions (the real position of every token), so rows of any lengths
share one batch as in `sampling.sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prmkit.models.gpt import GPT, KVCache
from prmkit.models.sampling import Start, decode, left_pad, row_budgets


@dataclass
class RowCache:
    """One sequence's keys and values: ids (L,), k and v (n_layer, n_head, L, head_dim)."""

    ids: list[int]
    k: torch.Tensor
    v: torch.Tensor


def reuse_length(past: RowCache | None, ids: list[int]) -> int:
    """How many leading tokens of `ids` the cache covers (at least one token stays new:
    the prefill must produce the logits after the last one)."""
    if past is None:
        return 0
    n = 0
    for a, b in zip(past.ids, ids[:-1]):
        if a != b:
            break
        n += 1
    return n


@torch.no_grad()
def prefill_resumed(
    model: GPT, pasts: list[RowCache | None], prompts: list[list[int]], pad_id: int, extra: int
) -> tuple[Start, list[RowCache]]:
    """The prefill of `prompts` on top of each row's reused cache; room for `extra`
    decoding steps. Returns decoding's start and each row's cache of its whole prompt."""
    model.eval()
    B = len(prompts)
    reuse = [reuse_length(p, ids) for p, ids in zip(pasts, prompts)]
    R = max(reuse)
    new_ids, new_mask = left_pad([ids[r:] for ids, r in zip(prompts, reuse)], pad_id)
    N = new_ids.shape[1]
    p = next(model.parameters())
    cache = KVCache(model.cfg, B, R + N + extra, p.dtype, p.device)
    past_mask = torch.zeros((B, R), dtype=torch.bool)
    for b, (past, r) in enumerate(zip(pasts, reuse)):
        if r:
            cache.k[:, b, :, R - r : R] = past.k[:, :, :r]
            cache.v[:, b, :, R - r : R] = past.v[:, :, :r]
            past_mask[b, R - r :] = True
    cache.len = R
    r_t = torch.tensor(reuse)
    pos = r_t[:, None] + (new_mask.long().cumsum(1) - 1).clamp(min=0)  # (B, N) real positions
    mask = torch.cat([past_mask, new_mask], 1)
    logits = model(new_ids, key_mask=mask, pos=pos, cache=cache)[:, -1]
    rows = []
    for b, ids in enumerate(prompts):
        keep = mask[b].nonzero().squeeze(1)
        rows.append(
            RowCache(list(ids), cache.k[:, b, :, keep].clone(), cache.v[:, b, :, keep].clone())
        )
    n_real = torch.tensor([len(ids) for ids in prompts])
    return Start(logits, cache, mask, n_real, n_real.new_zeros(B)), rows


def sample_resumed(
    model: GPT,
    pasts: list[RowCache | None],
    prompts: list[list[int]],
    max_new_tokens: int,
    stop_ids: set[int],
    pad_id: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    row_seeds: list[int] | None = None,
) -> tuple[list[list[int]], list[list[float]], list[int | None], list[RowCache]]:
    """`sampling.sample` (with its cache) continuing from `pasts` (None: nothing kept);
    also returns each row's RowCache of its prompt, for the next call."""
    n_real = torch.tensor([len(ids) for ids in prompts])
    row_budget = row_budgets(model, n_real, max_new_tokens)
    start, rows = prefill_resumed(model, pasts, prompts, pad_id, int(row_budget.max()))
    start.row_budget = row_budget
    out = decode(model, start, stop_ids, pad_id, temperature, top_p, generator, row_seeds)
    return (*out, rows)
