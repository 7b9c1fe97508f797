"""The built-in policy: a small character-level GPT, a `LocalPolicy`."""

from __future__ import annotations

from pathlib import Path

import torch

from prmkit.models.checkpoint import load_state, read_config, save_checkpoint
from prmkit.models.generator import Generation, SamplingParams
from prmkit.models.gpt import GPT, GPTConfig
from prmkit.models.sampling import derive_seed, sample
from prmkit.models.steps import STEP_SEP, split_steps
from prmkit.models.tokenizer import CharTokenizer

POLICY_KIND = "policy"


class BuiltinPolicy:
    """A GPT policy over characters; `generate` batches all prompts x n samples."""

    step_sep = STEP_SEP

    def __init__(self, model: GPT, meta: dict | None = None, batch_size: int = 512) -> None:
        self.model = model
        self.tok = CharTokenizer()
        self.meta = meta or {}
        self.batch_size = batch_size

    @classmethod
    def new(cls, cfg: GPTConfig | None = None) -> BuiltinPolicy:
        cfg = cfg or GPTConfig(vocab_size=CharTokenizer().vocab_size)
        return cls(GPT(cfg))

    @classmethod
    def load(cls, ckpt_dir: str | Path, cfg: dict | None = None) -> BuiltinPolicy:
        """The checkpoint in `ckpt_dir`; `cfg`: its config.json when already read."""
        cfg = cfg or read_config(ckpt_dir, POLICY_KIND)
        model = GPT(GPTConfig(**cfg["gpt"]))
        model.load_state_dict(load_state(ckpt_dir), strict=False)
        model.head.weight = model.tok.weight
        return cls(model, cfg)

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        config = {"kind": POLICY_KIND, "backend": "builtin", "tokenizer": "char"}
        config.update(self.meta | (extra or {}))
        config["kind"] = POLICY_KIND
        config["gpt"] = self.model.cfg.to_dict()
        state = {k: v for k, v in self.model.state_dict().items() if k != "head.weight"}
        return save_checkpoint(out_dir, state, config)

    @property
    def context_length(self) -> int:
        return self.model.cfg.block_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def pad_id(self) -> int:
        return self.tok.pad_id

    def prompt_ids(self, text: str) -> list[int]:
        return [self.tok.bos_id] + self.tok.encode(text)

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)

    def token_name(self, token_id: int) -> str:
        return self.tok.itos[token_id]

    def chat_prompt(self, messages: list[dict]) -> None:
        return None  # no chat template: callers join the messages by step_sep

    def logits(
        self, ids: torch.Tensor, attn: torch.Tensor, model: torch.nn.Module | None = None
    ) -> torch.Tensor:
        # right padding never reaches earlier tokens under the causal mask
        return (model or self.model)(ids)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        gen = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
        enc = [self.prompt_ids(p) for p in prompts]
        flat = [i for i in range(len(prompts)) for _ in range(params.n)]
        seeds = None
        if params.seeds is not None:
            if len(params.seeds) != len(prompts):
                raise ValueError(f"{len(params.seeds)} seeds for {len(prompts)} prompts")
            seeds = [
                derive_seed(params.seeds[i], j)
                for i in range(len(prompts))
                for j in range(params.n)
            ]
        stop = {self.tok.eos_id} | ({self.tok.newline_id} if params.stop_at_step else set())
        results: list[list[Generation]] = [[] for _ in prompts]
        # Sorting by prompt length keeps left padding, and so wasted compute, small.
        order = sorted(range(len(flat)), key=lambda k: len(enc[flat[k]]))
        outs: dict[int, Generation] = {}
        for s in range(0, len(order), self.batch_size):
            chunk = order[s : s + self.batch_size]
            ids, lps, stops = sample(
                self.model,
                [enc[flat[k]] for k in chunk],
                params.max_new_tokens,
                stop,
                self.tok.pad_id,
                params.temperature,
                params.top_p,
                gen,
                row_seeds=None if seeds is None else [seeds[k] for k in chunk],
            )
            for k, t, lp, st in zip(chunk, ids, lps, stops):
                text = self.tok.decode(t)
                outs[k] = Generation(
                    text, split_steps(text, self.step_sep), t, lp, st == self.tok.eos_id
                )
        for k in range(len(flat)):
            results[flat[k]].append(outs[k])
        return results
