"""Any local Hugging Face causal LM as a policy, through transformers.

The sampling loop is our own (KV cache, left padding) so that it returns per-token
log-probs and can stop at a step boundary in text space, which is robust to tokenizers
that merge the separator with neighbouring characters. The text is decoded only when
a token that carries a separator character arrives, and once at the end.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch

from prmkit.models.generator import Generation, SamplingParams
from prmkit.models.sampling import _top_p_filter, derive_seed, inverse_cdf, row_uniforms
from prmkit.models.steps import STEP_SEP, split_steps


class HFPolicy:
    """A local Hugging Face causal LM and its tokenizer, a `LocalPolicy`."""

    def __init__(self, model, tokenizer, step_sep: str = STEP_SEP, batch_size: int = 64) -> None:
        self.model = model.eval()
        self.tok = tokenizer
        self.tok.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        self.step_sep = step_sep
        self.batch_size = batch_size
        forward_args = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward_args else "past_key_values"
        self._keep_last = "logits_to_keep" in forward_args
        # which token ids decode to text holding a separator character
        pieces = self.tok.batch_decode([[i] for i in range(len(self.tok))])
        self._sep_tokens = [any(c in p for c in step_sep) for p in pieces]

    @property
    def context_length(self) -> int | None:
        try:  # every transformers config with learned or rotary positions names this
            return int(self.model.config.max_position_embeddings)
        except (AttributeError, TypeError):
            return None

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def pad_id(self) -> int:
        return self.tok.pad_token_id if self.tok.pad_token_id is not None else 0

    def prompt_ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=True)["input_ids"])

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def token_name(self, token_id: int) -> str:
        return str(self.tok.convert_ids_to_tokens(token_id))

    def chat_prompt(self, messages: list[dict]) -> str | None:
        if not self.tok.chat_template:
            return None
        last_assistant = messages[-1]["role"] == "assistant"
        return self.tok.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not last_assistant,
            continue_final_message=last_assistant,
        )

    def logits(
        self, ids: torch.Tensor, attn: torch.Tensor, model: torch.nn.Module | None = None
    ) -> torch.Tensor:
        return (model or self.model)(input_ids=ids, attention_mask=attn.long()).logits

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        """The model and tokenizer as a Hugging Face folder (`extra` is not stored)."""
        d = Path(out_dir)
        self.model.save_pretrained(str(d))
        self.tok.save_pretrained(str(d))
        return d

    @classmethod
    def load(
        cls, path: str | Path, step_sep: str = STEP_SEP, dtype: torch.dtype = torch.float32
    ) -> HFPolicy:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=dtype)
        return cls(model, tok, step_sep)

    def _forward(self, ids, mask, pos, cache=None):
        """One forward pass: (last-position logits (B, V), the KV cache). Uses the
        `cache` argument of transformers >= 5.x (`past_key_values` before it)."""
        kw: dict = {"use_cache": True}
        if self._keep_last:
            kw["logits_to_keep"] = 1
        if cache is not None:
            kw[self._cache_arg] = cache
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, **kw)
        past = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
        return out.logits[:, -1], past

    def _stop_text(self, toks: list[int], recent: list[int]) -> str | None:
        """The text up to and including the first step separator after the leading
        ones, or None when there is none yet. Decodes only when one of the last
        len(step_sep) tokens carries a separator character."""
        n = len(self._sep_tokens)
        if not any(t >= n or self._sep_tokens[t] for t in recent):
            return None
        text = self.tok.decode(toks, skip_special_tokens=True)
        body = text.lstrip(self.step_sep)
        if self.step_sep not in body:
            return None
        lead = len(text) - len(body)
        return text[: text.index(self.step_sep, lead) + len(self.step_sep)]

    @torch.no_grad()
    def _batch(
        self,
        prompts: list[str],
        params: SamplingParams,
        gen: torch.Generator | None,
        seeds: list[int] | None = None,
    ) -> list[Generation]:
        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        B = ids.shape[0]
        eos = self.tok.eos_token_id
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        logits, cache = self._forward(ids, mask, pos)
        toks: list[list[int]] = [[] for _ in range(B)]
        lps: list[list[float]] = [[] for _ in range(B)]
        cut: list[str | None] = [None] * B
        finished = [False] * B
        live = list(range(B))
        uniforms = (
            row_uniforms(seeds, params.max_new_tokens)
            if seeds is not None and params.temperature > 0
            else None
        )
        span = max(1, len(self.step_sep))
        for t in range(params.max_new_tokens):
            logp = logits.float().log_softmax(-1)
            if params.temperature <= 0:
                nxt = logp.argmax(-1)
            else:
                if params.temperature == 1 and params.top_p >= 1:
                    probs = logp.exp()
                else:
                    scaled = logits.float() / params.temperature
                    probs = _top_p_filter(scaled, params.top_p).softmax(-1)
                if uniforms is not None:
                    nxt = inverse_cdf(probs, uniforms[:, t])
                else:  # argmax p / E with E = -log U ~ Exp(1) draws from p; 3x faster than multinomial
                    race = torch.rand(probs.shape, generator=gen).log_().neg_()
                    nxt = (probs / race).argmax(-1)
            chosen = logp.gather(1, nxt[:, None]).squeeze(1).tolist()
            nxt_list = nxt.tolist()
            still = []
            for b in live:
                tok = nxt_list[b]
                toks[b].append(tok)
                lps[b].append(chosen[b])
                if tok == eos:
                    finished[b] = True
                    continue
                if params.stop_at_step:
                    cut[b] = self._stop_text(toks[b], toks[b][-span:])
                    if cut[b] is not None:
                        continue
                still.append(b)
            live = still
            if not live:
                break
            mask = torch.cat([mask, torch.ones((B, 1), dtype=mask.dtype)], 1)
            pos = pos[:, -1:] + 1
            logits, cache = self._forward(nxt[:, None], mask, pos, cache)
        texts = [
            cut[b] if cut[b] is not None else self.tok.decode(toks[b], skip_special_tokens=True)
            for b in range(B)
        ]
        return [
            Generation(texts[b], split_steps(texts[b], self.step_sep), toks[b], lps[b], finished[b])
            for b in range(B)
        ]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        gen = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
        flat = [p for p in prompts for _ in range(params.n)]
        seeds = (
            None
            if params.seeds is None
            else [derive_seed(s, j) for s in params.seeds for j in range(params.n)]
        )
        outs: list[Generation] = []
        for s in range(0, len(flat), self.batch_size):
            part = None if seeds is None else seeds[s : s + self.batch_size]
            outs.extend(self._batch(flat[s : s + self.batch_size], params, gen, part))
        return [outs[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]
