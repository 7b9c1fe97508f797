"""Batched sampling for the built-in GPT: KV cache, left padding, top-p, stop rules."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from prmkit.models.gpt import GPT, KVCache


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Mask logits outside the smallest set whose probability reaches top_p. (B, V)."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    drop = cum - sorted_logits.softmax(-1) >= top_p  # keep the token that crosses top_p
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (a run seed, an item id, an index...).

    The same parts always give the same seed, in every process and Python version.
    """
    h = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") >> 1


def row_uniforms(seeds: list[int], n: int) -> torch.Tensor:
    """(B, n) uniforms in [0, 1), row b drawn from its own generator seeded seeds[b]."""
    return torch.stack(
        [
            torch.rand(n, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
            for s in seeds
        ]
    )


def inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Sample one index per row of probs (B, V) by inverse CDF with uniforms u (B,).

    A row's draw depends on its own probabilities and uniform only, never on the
    other rows of the batch.
    """
    cdf = probs.double().cumsum(-1)
    # right=True: the first index whose cdf exceeds u * total, never a zero-probability token.
    idx = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(1)
    return idx.clamp(max=probs.shape[-1] - 1)


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, P) ids left-padded and (B, P) bool mask, True at real tokens."""
    P = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), P), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), P), dtype=torch.bool)
    for i, s in enumerate(seqs):
        if s:
            ids[i, P - len(s) :] = torch.tensor(s)
            mask[i, P - len(s) :] = True
    return ids, mask


@torch.no_grad()
def sample(
    model: GPT,
    prompts: list[list[int]],
    max_new_tokens: int,
    stop_ids: set[int],
    pad_id: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    row_seeds: list[int] | None = None,
) -> tuple[list[list[int]], list[list[float]], list[int | None]]:
    """Sample continuations for a batch of token-id prompts.

    Returns per row: the new token ids (stop token included), their log-probs under
    the model at temperature 1, and the stop token that ended the row (None if it ran
    out of tokens). `use_cache=False` re-runs the whole sequence each step: the slow
    reference that the benchmark compares against. `row_seeds` (one per row) makes each
    row's sample depend only on its own prompt and seed, not on the rest of the batch:
    every row gets its own token budget and its own random stream.
    """
    model.eval()
    ids, mask = left_pad(prompts, pad_id)
    P = ids.shape[1]
    pos0 = (mask.long().cumsum(1) - 1).clamp(min=0)  # (B, P) real positions
    n_real = mask.sum(1)  # (B,)
    row_budget = row_budgets(model, n_real, max_new_tokens)
    p = next(model.parameters())
    budget = int(row_budget.max())
    cache = KVCache(model.cfg, len(prompts), P + budget, p.dtype, p.device) if use_cache else None
    logits = model(ids, key_mask=mask, pos=pos0, cache=cache)[:, -1]
    start = Start(logits, cache, mask, n_real, row_budget, None if use_cache else (ids, pos0))
    return decode(model, start, stop_ids, pad_id, temperature, top_p, generator, row_seeds)


def row_budgets(model: GPT, n_real: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """(B,) tokens each row may still generate: up to block_size from its own length."""
    row_budget = (model.cfg.block_size - n_real).clamp(max=max_new_tokens)
    if int(row_budget.min()) <= 0:
        raise ValueError(
            f"prompt of {int(n_real.max())} tokens leaves no room in block_size "
            f"{model.cfg.block_size}"
        )
    return row_budget


@dataclass
class Start:
    """Where decoding starts, after the prompts' prefill.

    logits: (B, V) at each row's last prompt token. cache: the keys and values so far
    (None: no cache). mask: (B, S) bool, True at the real keys of the S so far.
    n_real: (B,) real tokens per row (the next position). row_budget: (B,) tokens
    each row may generate. seq: without a cache, the (B, S) ids and positions so far.
    """

    logits: torch.Tensor
    cache: KVCache | None
    mask: torch.Tensor
    n_real: torch.Tensor
    row_budget: torch.Tensor
    seq: tuple[torch.Tensor, torch.Tensor] | None = None


@torch.no_grad()
def decode(
    model: GPT,
    start: Start,
    stop_ids: set[int],
    pad_id: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    row_seeds: list[int] | None = None,
) -> tuple[list[list[int]], list[list[float]], list[int | None]]:
    """The decoding loop of `sample` from a prefilled `start` (same returns)."""
    logits, cache, full_mask, n_real, row_budget = (
        start.logits,
        start.cache,
        start.mask,
        start.n_real,
        start.row_budget,
    )
    use_cache = cache is not None
    seq, full_pos = start.seq if start.seq is not None else (None, None)
    B = len(row_budget)
    budget = int(row_budget.max())
    uniforms = (
        row_uniforms(row_seeds, budget) if row_seeds is not None and temperature > 0 else None
    )
    out = torch.zeros((B, budget), dtype=torch.long)
    lps = torch.zeros((B, budget))
    done = torch.zeros(B, dtype=torch.bool)
    stop_tok = torch.full((B,), -1, dtype=torch.long)
    lengths = row_budget.clone()
    stop = torch.tensor(sorted(stop_ids), dtype=torch.long)
    # With per-row streams, finished rows can leave the batch: the rest are unchanged.
    compact = row_seeds is not None and use_cache
    act = torch.arange(B)  # the original row of each row still in the batch
    for t in range(budget):
        logp = logits.float().log_softmax(-1)
        if temperature <= 0:
            nxt = logp.argmax(-1)
        else:
            probs = _top_p_filter(logits.float() / temperature, top_p).softmax(-1)
            if uniforms is not None:
                nxt = inverse_cdf(probs, uniforms[act, t])
            else:
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        out[act, t] = nxt
        lps[act, t] = logp.gather(1, nxt[:, None]).squeeze(1)
        hit = ~done & torch.isin(nxt, stop)
        lengths[act] = torch.where(hit, torch.full_like(nxt, t + 1), lengths[act])
        stop_tok[act] = torch.where(hit, nxt, stop_tok[act])
        done = done | hit | (row_budget <= t + 1)
        if bool(done.all()) or t == budget - 1:
            break
        if compact and 4 * int(done.sum()) >= len(done):
            keep = (~done).nonzero().squeeze(1)
            act, done, nxt, n_real, row_budget = (
                act[keep],
                done[keep],
                nxt[keep],
                n_real[keep],
                row_budget[keep],
            )
            full_mask = full_mask[keep]
            cache.k, cache.v = cache.k[:, keep], cache.v[:, keep]
        # Rows past their own budget are done; clamping keeps their (discarded) positions valid.
        step_pos = (n_real + t).clamp(max=model.cfg.block_size - 1)[:, None]
        # Finished rows keep decoding padding; their outputs are discarded.
        full_mask = torch.cat([full_mask, torch.ones((len(act), 1), dtype=torch.bool)], 1)
        if use_cache:
            logits = model(nxt[:, None], key_mask=full_mask, pos=step_pos, cache=cache)[:, -1]
        else:
            seq = torch.cat([seq, nxt[:, None]], 1)
            full_pos = torch.cat([full_pos, step_pos], 1)
            logits = model(seq, key_mask=full_mask, pos=full_pos)[:, -1]
    new_ids = [out[b, : lengths[b]].tolist() for b in range(B)]
    new_lps = [lps[b, : lengths[b]].tolist() for b in range(B)]
    stops = [int(s) if s >= 0 else None for s in stop_tok.tolist()]
    return new_ids, new_lps, stops
