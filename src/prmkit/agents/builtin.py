"""The built-in GPT as an agent: one batched sampling call per turn.

Each turn re-reads the episode's whole text (prefill) and samples the action with a
KV cache inside the turn; the cache is not carried across turns, since the
observation tokens would have to be appended to it (a prefill of a few hundred
characters costs about one decoding step of the batch).
"""

from __future__ import annotations

import torch

from prmkit.agents.loop import AgentPolicy
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams
from prmkit.models.sampling import sample


def builtin_act(policy: BuiltinPolicy, params: SamplingParams):
    """An `Act` for the loop: sample every text's next action in batches."""
    tok = policy.tok
    stop = {tok.eos_id, tok.newline_id, tok.stoi["]"]}
    gen = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
    block = policy.model.cfg.block_size

    def act(texts: list[str], seeds: list[int] | None):
        enc = [policy.prompt_ids(t) for t in texts]
        out: list = [("", [], [], True)] * len(texts)  # no room left: the episode ends
        fits = [i for i, e in enumerate(enc) if len(e) < block]
        for s in range(0, len(fits), policy.batch_size):
            rows = fits[s : s + policy.batch_size]
            ids, lps, stops = sample(
                policy.model,
                [enc[i] for i in rows],
                params.max_new_tokens,
                stop,
                tok.pad_id,
                params.temperature,
                params.top_p,
                gen,
                row_seeds=None if seeds is None else [seeds[i] for i in rows],
            )
            for i, t, lp, st in zip(rows, ids, lps, stops):
                action = tok.decode(t).strip()
                out[i] = (action, t, lp, st == tok.eos_id or st is None and not action)
        return out

    return act


def builtin_agent(
    policy: BuiltinPolicy, world: str = "toolqa", max_turns: int = 10, action_tokens: int = 48
) -> AgentPolicy:
    """An AgentPolicy (a Generator) driven by a built-in GPT checkpoint."""
    return AgentPolicy(lambda params: builtin_act(policy, params), world, max_turns, action_tokens)
