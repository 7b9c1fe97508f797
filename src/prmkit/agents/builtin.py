"""The built-in GPT as an agent: one batched sampling call per turn.

Each episode's keys and values are kept from one turn to the next (`kv_cache`, on by
default): the next turn runs one forward pass over the new tokens only (the last
action, its observation and the line break, about 30 characters) on top of the kept
cache, instead of re-reading the episode's whole text (`models.kv_resume`). With
`kv_cache=False` every turn re-reads the whole text (one prefill per turn); both
sample the same trajectories up to float rounding.
"""

from __future__ import annotations

import torch

from prmkit.agents.loop import AgentPolicy
from prmkit.data.turns import STEP_SEP
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams
from prmkit.models.kv_resume import RowCache, sample_resumed
from prmkit.models.sampling import sample


def kept_cache(store: dict[str, RowCache], text: str) -> RowCache | None:
    """The cache kept for the longest earlier text of this episode: the text itself or
    a prefix of it ending at a line break (an episode's text at an earlier turn)."""
    ends = [i + 1 for i, ch in enumerate(text) if ch == STEP_SEP]
    for end in sorted(set(ends + [len(text)]), reverse=True):
        if text[:end] in store:
            return store[text[:end]]
    return None


KV_BYTES = 2**29
"""The most bytes of kept caches (episodes past it re-read their text next turn): a
labeling call can run thousands of episodes together."""


def builtin_act(policy: BuiltinPolicy, params: SamplingParams, kv_cache: bool = True):
    """An `Act` for the loop: sample every text's next action in batches (keeping each
    text's KV cache for the next call with `kv_cache`, up to KV_BYTES)."""
    tok = policy.tok
    stop = {tok.eos_id, tok.newline_id, tok.stoi["]"]}
    gen = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
    block = policy.model.cfg.block_size
    store: dict[str, RowCache] = {}  # text -> its cache, from the previous call

    def act(texts: list[str], seeds: list[int] | None):
        enc = [policy.prompt_ids(t) for t in texts]
        out: list = [("", [], [], True)] * len(texts)  # no room left: the episode ends
        fits = [i for i, e in enumerate(enc) if len(e) < block]
        kept: dict[str, RowCache] = {}
        size = 0
        for s in range(0, len(fits), policy.batch_size):
            rows = fits[s : s + policy.batch_size]
            args = (
                [enc[i] for i in rows],
                params.max_new_tokens,
                stop,
                tok.pad_id,
                params.temperature,
                params.top_p,
                gen,
            )
            row_seeds = None if seeds is None else [seeds[i] for i in rows]
            if kv_cache:
                pasts = [kept_cache(store, texts[i]) for i in rows]
                ids, lps, stops, caches = sample_resumed(
                    policy.model, pasts, *args, row_seeds=row_seeds
                )
                for i, c in zip(rows, caches):
                    if size < KV_BYTES:
                        kept[texts[i]] = c
                        size += 2 * c.k.numel() * c.k.element_size()
            else:
                ids, lps, stops = sample(policy.model, *args, row_seeds=row_seeds)
            for i, t, lp, st in zip(rows, ids, lps, stops):
                action = tok.decode(t).strip()
                out[i] = (action, t, lp, st == tok.eos_id or st is None and not action)
        store.clear()
        store.update(kept)
        return out

    return act


def builtin_agent(
    policy: BuiltinPolicy,
    world: str = "toolqa",
    max_turns: int = 10,
    action_tokens: int = 48,
    kv_cache: bool = True,
) -> AgentPolicy:
    """An AgentPolicy (a Generator) driven by a built-in GPT checkpoint; `kv_cache`
    keeps each episode's keys and values across turns."""
    return AgentPolicy(
        lambda params: builtin_act(policy, params, kv_cache), world, max_turns, action_tokens
    )
