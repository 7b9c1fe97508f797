"""The policy server's answers: generations cut at stop strings, as OpenAI choices.

`apply_stop` cuts a generation at its first stop string (tokens and log-probs
with it); `completion_choice` and `chat_choice` shape a `Choice` as the two
endpoints answer it, log-probabilities included.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prmkit.models.chat_text import decode_pieces
from prmkit.models.generator import Generation, Generator, LocalPolicy
from prmkit.serve.policy_api import CompletionRequest


def token_pieces(gen: Generator, ids: list[int]) -> list[str]:
    """The text each generated token adds (special tokens add nothing)."""
    return decode_pieces(gen.decode, ids)


def token_name(gen: Generator, tid: int, piece: str) -> str:
    return piece or gen.token_name(tid)


def prompt_ids(gen: Generator, prompt: str) -> list[int]:
    return gen.prompt_ids(prompt) or []


@torch.no_grad()
def top_logprobs(
    gen: LocalPolicy, prompt: str, ids: list[int], k: int
) -> list[list[tuple[int, float]]]:
    """For each generated position, the k most likely tokens and their log-probs (T=1)."""
    if not ids:
        return []
    p = gen.prompt_ids(prompt)
    seq = torch.tensor([p + ids], device=gen.device)
    logits = gen.logits(seq, torch.ones_like(seq, dtype=torch.bool))[0]
    logp = logits[len(p) - 1 : len(p) - 1 + len(ids)].float().log_softmax(-1)
    vals, idx = logp.topk(min(k, logp.shape[-1]), dim=-1)
    return [list(zip(i.tolist(), v.tolist())) for i, v in zip(idx, vals)]


@dataclass
class Choice:
    text: str
    ids: list[int]
    pieces: list[str]
    logprobs: list[float]
    finish_reason: str
    stop_reason: str | None
    top: list[list[tuple[int, float]]] | None = None


def _keep_tokens(pieces: list[str], end: int) -> int:
    """How many tokens start before character `end` of the text."""
    keep = pos = 0
    for p in pieces:
        if pos >= end:
            break
        pos += len(p)
        keep += 1
    return keep


def apply_stop(gen: Generator, g: Generation, stop: list[str], include: bool) -> Choice:
    """Cut a generation at its first stop string (OpenAI semantics), tokens included.

    The step separator, when it is a stop string, is the policy's own rule (the built-in
    stops at the first separator; the HF policy skips leading ones), so a generation
    that stopped at a step keeps exactly the text the policy produced.
    """
    sep = gen.step_sep
    pieces = token_pieces(gen, g.token_ids)
    at_step = sep in stop and not g.finished and g.text.endswith(sep)
    body = g.text[: -len(sep)] if at_step else g.text
    hits = [(i, s) for s in stop if s != sep and (i := body.find(s)) >= 0]
    if hits:
        i, s = min(hits)
        end = i + len(s) if include else i
    elif at_step:
        s, end = sep, len(g.text) if include else len(body)
    else:
        reason = "stop" if g.finished else "length"
        return Choice(g.text, list(g.token_ids), pieces, list(g.logprobs), reason, None)
    keep = _keep_tokens(pieces, end)
    return Choice(g.text[:end], g.token_ids[:keep], pieces[:keep], g.logprobs[:keep], "stop", s)


def _tok_str(gen: Generator, tid: int, piece: str, as_ids: bool) -> str:
    return f"token_id:{tid}" if as_ids else token_name(gen, tid, piece)


def completion_choice(gen: Generator, c: Choice, index: int, req: CompletionRequest) -> dict:
    lp = None
    if req.logprobs is not None:
        toks = [_tok_str(gen, t, p, req.token_ids) for t, p in zip(c.ids, c.pieces)]
        offsets, pos = [], 0
        for p in c.pieces:
            offsets.append(pos)
            pos += len(p)
        top = None
        if c.top is not None:
            top = [
                {_tok_str(gen, t, token_pieces(gen, [t])[0], req.token_ids): v for t, v in row}
                for row in c.top
            ]
        lp = {
            "tokens": toks,
            "token_logprobs": c.logprobs,
            "top_logprobs": top,
            "text_offset": offsets,
        }
    return {
        "index": index,
        "text": c.text,
        "logprobs": lp,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
    }


def chat_choice(gen: Generator, c: Choice, index: int, req: CompletionRequest) -> dict:
    lp = None
    if req.logprobs is not None:
        content = []
        for j, (t, p, v) in enumerate(zip(c.ids, c.pieces, c.logprobs)):
            name = _tok_str(gen, t, p, req.token_ids)
            entry = {
                "token": name,
                "logprob": v,
                "bytes": list(name.encode("utf-8", "replace")),
                "top_logprobs": [],
            }
            if c.top is not None:
                for tt, vv in c.top[j]:
                    nm = _tok_str(gen, tt, token_pieces(gen, [tt])[0], req.token_ids)
                    entry["top_logprobs"].append(
                        {"token": nm, "logprob": vv, "bytes": list(nm.encode("utf-8", "replace"))}
                    )
            content.append(entry)
        lp = {"content": content}
    return {
        "index": index,
        "message": {"role": "assistant", "content": c.text},
        "logprobs": lp,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
    }
