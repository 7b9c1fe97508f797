"""Discriminative step PRMs and ORMs: a backbone reads one logit at every step tag.

Backends (all expose the same `encode` / `step_logits` / `save`):

- `BuiltinStepModel`: the built-in GPT (`prmkit.models.gpt.GPT.hidden`); the tag is
  the policy's own step separator "\\n" by default (so a PRM started from a policy
  reads hidden states the policy already computes), or the reserved `<step>` token;
  the logit is h . (E[<good>] - E[<bad>]) + b, i.e. the language-model head read at
  two reward tokens (tied embeddings).
- `HFStepModel` with head "tokcls": a Hugging Face token-classification model with
  two classes; logit = l[1] - l[0].
- `HFStepModel` with head "lm": a Hugging Face causal LM read at two reward tokens
  (Math-Shepherd, Wang et al. 2024): logit = l[good] - l[bad], computed at the tag
  positions only (the full-vocabulary projection is never formed).

P(step correct) = sigmoid(logit). The same model is an ORM when trained on the final
step's outcome only (`kind` "orm" in the checkpoint).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from prmkit.data import InputError
from prmkit.models.checkpoint import load_state, read_config, save_checkpoint
from prmkit.models.gpt import GPT, GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.render import RENDERS
from prmkit.prm.tagging import Batch, StepFormat, Tagged, tag_steps

STEP_KINDS = ("prm", "orm")


class StepModel(nn.Module):
    """Common interface: `encode` (the one tagging function) and `step_logits`."""

    kind: str = "prm"
    tok: Any
    fmt: StepFormat
    pad_id: int
    max_len: int | None = None
    render: str = "none"
    """how the PRM reads steps (`prmkit.prm.render.RENDERS`), saved in config.json"""

    def view(self, steps: list[str]) -> list[str]:
        """The steps as this PRM reads them (its render applied)."""
        return RENDERS[self.render](steps)

    def encode(self, prompt: str, steps: list[str], labels=None) -> Tagged:
        t = tag_steps(self.tok, prompt, self.view(steps), self.fmt, labels)
        if self.max_len is not None and len(t.input_ids) > self.max_len:
            raise ValueError(
                f"solution of {len(t.input_ids)} tokens exceeds the PRM's limit of {self.max_len} "
                "(train with a larger --block-size)"
            )
        return t

    def windows(self, prompt: str, steps: list[str], labels=None) -> list[Tagged]:
        """The training examples of one solution: the whole solution, encoded once (an
        encoder PRM cuts a long one into windows)."""
        return [self.encode(prompt, steps, labels)]

    def step_logits(self, batch: Batch) -> torch.Tensor:
        """(N,) one logit per step tag, N = batch.tags.sum(), in row-major order."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def builtin_format(tok: CharTokenizer, tag: str | None = "\n") -> StepFormat:
    """The built-in layout: the policy's text, tagged by `tag` (None: the `<step>` token)."""
    if tag is None or tag == "<step>":
        return StepFormat(tag=None, tag_ids=[tok.step_id], prompt_sep="\n", bos=True)
    return StepFormat(tag=tag, tag_ids=None, prompt_sep="\n", bos=True)


class BuiltinStepModel(StepModel):
    def __init__(
        self,
        gpt: GPT,
        kind: str = "prm",
        meta: dict | None = None,
        fmt: StepFormat | None = None,
    ) -> None:
        super().__init__()
        self.gpt = gpt
        self.tok = CharTokenizer()
        self.fmt = fmt or builtin_format(self.tok)
        self.pad_id = self.tok.pad_id
        self.max_len = gpt.cfg.block_size
        self.bias = nn.Parameter(torch.zeros(()))
        self.kind = kind
        self.meta = meta or {}

    @classmethod
    def new(
        cls, cfg: GPTConfig, kind: str = "prm", init: str | None = None, tag: str | None = "\n"
    ) -> BuiltinStepModel:
        """A fresh model; `init` = a built-in policy checkpoint whose weights start it;
        `tag` = the step-end tag text (None or "<step>": the reserved `<step>` token)."""
        gpt = GPT(cfg)
        if init:
            pcfg = read_config(init, "policy")
            if pcfg.get("backend", "builtin") != "builtin":
                raise InputError("--init must be a built-in policy checkpoint", init)
            src = GPTConfig(**pcfg["gpt"])
            if (src.d_model, src.n_layer, src.n_head) != (cfg.d_model, cfg.n_layer, cfg.n_head):
                raise InputError(
                    f"--init has d_model={src.d_model}, n_layer={src.n_layer}, n_head={src.n_head}; "
                    "the PRM must match (or leave out --init)",
                    init,
                )
            state = load_state(init)
            pos = state["pos.weight"]
            if pos.shape[0] < cfg.block_size:  # extend learned positions by repeating the last
                extra = pos[-1:].expand(cfg.block_size - pos.shape[0], -1)
                state["pos.weight"] = torch.cat([pos, extra])
            else:
                state["pos.weight"] = pos[: cfg.block_size]
            gpt.load_state_dict(state, strict=False)
            gpt.head.weight = gpt.tok.weight
        fmt = builtin_format(CharTokenizer(), tag)
        return cls(gpt, kind, {"init": str(init) if init else None}, fmt)

    def step_logits(self, batch: Batch) -> torch.Tensor:
        # Right padding needs no key mask; only the tags are read, so the last layer
        # runs at the tags alone (GPT.hidden_at).
        h = self.gpt.hidden_at(batch.ids.to(self.device), batch.tag_at.to(self.device))
        w = self.gpt.tok.weight
        direction = w[self.tok.good_id] - w[self.tok.bad_id]  # (d,)
        return h[batch.tag_valid.to(self.device)] @ direction + self.bias  # (n_tags,)

    def bare_forward(self, batch: Batch) -> torch.Tensor:
        """The backbone's plain forward (logits over the vocabulary): the benchmark's yardstick."""
        return self.gpt(batch.ids.to(self.device))

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        cfg = (
            {"backend": "builtin", "tokenizer": "char", "format": self.fmt.to_dict()}
            | self.meta
            | (extra or {})
        )
        cfg |= {"kind": self.kind, "gpt": self.gpt.cfg.to_dict()}
        state = {k: v for k, v in self.state_dict().items() if k != "gpt.head.weight"}
        return save_checkpoint(out_dir, state, cfg)

    @classmethod
    def load(cls, ckpt_dir: str | Path, cfg: dict | None = None) -> BuiltinStepModel:
        cfg = cfg or read_config(ckpt_dir, STEP_KINDS)
        # every checkpoint records its format (older ones: the `<step>` token), so
        # loading never depends on the current default tag
        m = cls(
            GPT(GPTConfig(**cfg["gpt"])),
            cfg["kind"],
            {k: v for k, v in cfg.items() if k not in ("gpt", "kind", "format")},
            StepFormat.from_dict(cfg["format"]),
        )
        m.load_state_dict(load_state(ckpt_dir), strict=False)
        m.gpt.head.weight = m.gpt.tok.weight
        return m.eval()


def _single_token(tok, text: str, what: str) -> int:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise InputError(
            f"{what} {text!r} must be one token for this tokenizer, it is {len(ids)}: {ids}"
        )
    return ids[0]


class HFStepModel(StepModel):
    """A local Hugging Face model as a step PRM: head "tokcls" or "lm" (see module doc)."""

    def __init__(
        self,
        model,
        tokenizer,
        head: str,
        fmt: StepFormat,
        kind: str = "prm",
        good_token: str = "+",
        bad_token: str = "-",
        meta: dict | None = None,
    ) -> None:
        super().__init__()
        if head not in ("tokcls", "lm"):
            raise ValueError(f"head must be 'tokcls' or 'lm', got {head!r}")
        self.model = model
        self.tok = tokenizer
        self.head = head
        self.fmt = fmt
        self.kind = kind
        self.good_token, self.bad_token = good_token, bad_token
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token or self.tok.unk_token
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        self.max_len = getattr(model.config, "max_position_embeddings", None) or getattr(
            model.config, "n_positions", None
        )
        if head == "lm":
            self.good_id = _single_token(tokenizer, good_token, "--good-token")
            self.bad_id = _single_token(tokenizer, bad_token, "--bad-token")
        self.meta = meta or {}

    @classmethod
    def from_pretrained(
        cls, path: str, head: str, fmt: StepFormat, kind: str = "prm", **kw
    ) -> HFStepModel:
        from transformers import (
            AutoModelForCausalLM,
            AutoModelForTokenClassification,
            AutoTokenizer,
        )

        if not (Path(path) / "config.json").exists():
            raise InputError("not a Hugging Face model folder (no config.json)", path)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if head == "tokcls":
            model = AutoModelForTokenClassification.from_pretrained(
                path, num_labels=2, local_files_only=True
            )
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        return cls(model, tok, head, fmt, kind, meta={"init": str(path)}, **kw)

    def step_logits(self, batch: Batch) -> torch.Tensor:
        ids, mask, tags = (t.to(self.device) for t in (batch.ids, batch.mask, batch.tags))
        if self.head == "tokcls":
            logits = self.model(input_ids=ids, attention_mask=mask.long()).logits  # (B, T, 2)
            sel = logits[tags]
            return sel[:, 1] - sel[:, 0]
        h = self.model.base_model(
            input_ids=ids, attention_mask=mask.long()
        ).last_hidden_state  # (B, T, d)
        out = self.model.get_output_embeddings()
        w = out.weight[self.good_id] - out.weight[self.bad_id]
        z = h[tags] @ w
        if getattr(out, "bias", None) is not None:
            z = z + out.bias[self.good_id] - out.bias[self.bad_id]
        return z

    def bare_forward(self, batch: Batch) -> torch.Tensor:
        return self.model(
            input_ids=batch.ids.to(self.device), attention_mask=batch.mask.long().to(self.device)
        ).logits

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(d / "model", safe_serialization=True)
        self.tok.save_pretrained(d / "model")
        cfg = (
            {
                "backend": "hf",
                "head": self.head,
                "format": self.fmt.to_dict(),
                "good_token": self.good_token,
                "bad_token": self.bad_token,
            }
            | self.meta
            | (extra or {})
        )
        cfg["kind"] = self.kind
        import json

        (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return d

    @classmethod
    def load(cls, ckpt_dir: str | Path, cfg: dict | None = None) -> HFStepModel:
        cfg = cfg or read_config(ckpt_dir, STEP_KINDS)
        m = cls.from_pretrained(
            str(Path(ckpt_dir) / "model"),
            cfg["head"],
            StepFormat.from_dict(cfg["format"]),
            cfg["kind"],
            good_token=cfg.get("good_token", "+"),
            bad_token=cfg.get("bad_token", "-"),
        )
        m.meta = {k: v for k, v in cfg.items() if k not in ("kind",)}
        return m.eval()


def frozen_copy(module: nn.Module) -> nn.Module:
    ref = copy.deepcopy(module).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
