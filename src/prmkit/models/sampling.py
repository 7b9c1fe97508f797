"""Batched sampling for the built-in GPT: KV cache, left padding, top-p, stop rules."""

from __future__ import annotations

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
) -> tuple[list[list[int]], list[list[float]], list[int | None]]:
    """Sample continuations for a batch of token-id prompts.

    Returns per row: the new token ids (stop token included), their log-probs under
    the model at temperature 1, and the stop token that ended the row (None if it ran
    out of tokens). `use_cache=False` re-runs the whole sequence each step: the slow
    reference that the benchmark compares against.
    """
    model.eval()
    B = len(prompts)
    ids, mask = left_pad(prompts, pad_id)
    P = ids.shape[1]
    budget = min(max_new_tokens, model.cfg.block_size - P)
    if budget <= 0:
        raise ValueError(
            f"prompt of {P} tokens leaves no room in block_size {model.cfg.block_size}"
        )
    pos0 = (mask.long().cumsum(1) - 1).clamp(min=0)  # (B, P) real positions
    n_real = mask.sum(1)  # (B,)
    device = next(model.parameters()).device
    cache = (
        KVCache(model.cfg, B, P + budget, next(model.parameters()).dtype, device)
        if use_cache
        else None
    )
    seq, full_mask, full_pos = ids, mask, pos0
    logits = model(ids, key_mask=mask, pos=pos0, cache=cache)[:, -1]
    out = torch.zeros((B, budget), dtype=torch.long)
    lps = torch.zeros((B, budget))
    done = torch.zeros(B, dtype=torch.bool)
    stop_tok = torch.full((B,), -1, dtype=torch.long)
    lengths = torch.full((B,), budget, dtype=torch.long)
    stop = torch.tensor(sorted(stop_ids), dtype=torch.long)
    for t in range(budget):
        logp = logits.float().log_softmax(-1)
        if temperature <= 0:
            nxt = logp.argmax(-1)
        else:
            probs = _top_p_filter(logits.float() / temperature, top_p).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
        out[:, t] = nxt
        lps[:, t] = logp.gather(1, nxt[:, None]).squeeze(1)
        hit = ~done & torch.isin(nxt, stop)
        lengths = torch.where(hit, torch.full_like(lengths, t + 1), lengths)
        stop_tok = torch.where(hit, nxt, stop_tok)
        done = done | hit
        if bool(done.all()) or t == budget - 1:
            break
        step_pos = (n_real + t)[:, None]
        # Finished rows keep decoding padding; their outputs are discarded.
        full_mask = torch.cat([full_mask, torch.ones((B, 1), dtype=torch.bool)], 1)
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
