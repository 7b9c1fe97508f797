"""Implicit PRM: process rewards from a language model trained on outcome labels only.

Yuan et al. 2024, "Free Process Rewards without Process Labels" (arXiv:2412.01981).
With a causal LM pi_phi and a frozen reference pi_ref, the reward of a response y is
parameterised as

    r_phi(y) = beta * sum_t log pi_phi(y_t | y_<t) / pi_ref(y_t | y_<t)

and trained with the cross-entropy objective on outcome labels l in {0, 1}:

    L = -[ l * log sigmoid(r_phi(y)) + (1 - l) * log(1 - sigmoid(r_phi(y))) ].

Then the process reward of step k is the sum of the token rewards inside step k, and
q_k = sum_{j <= k} r_j (the reward of the prefix up to step k) estimates the logit of
reaching a correct answer from there: the PRM's score of step k is sigmoid(q_k).

The tensor functions below are pure (no model, no state); PRIME-style RL imports
them from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from prmkit.data import InputError
from prmkit.models.checkpoint import load_state, read_config, save_checkpoint
from prmkit.models.gpt import GPT, GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.models import StepModel, frozen_copy
from prmkit.prm.tagging import Batch, StepFormat

IMPLICIT_KIND = "implicit-prm"


def token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Log-probability of each token given the ones before it.

    logits: (B, T, V) from a causal LM on ids (B, T). Returns (B, T): out[:, t] =
    log p(ids[:, t] | ids[:, :t]) for t >= 1; out[:, 0] = 0 (the first token has no
    prediction).
    """
    lp = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return F.pad(lp, (1, 0))


def implicit_token_rewards(
    logp_phi: torch.Tensor, logp_ref: torch.Tensor, beta: float
) -> torch.Tensor:
    """Token rewards beta * (log pi_phi - log pi_ref): (B, T), (B, T) -> (B, T)."""
    return beta * (logp_phi - logp_ref)


def step_sums(
    token_rewards: torch.Tensor, step_ids: torch.Tensor, n_steps: int | None = None
) -> torch.Tensor:
    """Sum token rewards within each step.

    token_rewards: (B, T). step_ids: (B, T) long, the step index of each token, -1 for
    tokens in no step (prompt, padding). Returns (B, S), S = n_steps or max id + 1;
    out[b, k] = sum of token_rewards[b, t] over t with step_ids[b, t] == k.
    """
    S = int(step_ids.max().item()) + 1 if n_steps is None else n_steps
    B = token_rewards.shape[0]
    out = torch.zeros((B, S + 1), dtype=token_rewards.dtype, device=token_rewards.device)
    idx = torch.where(step_ids >= 0, step_ids, torch.full_like(step_ids, S))  # S = a bin for "none"
    out.scatter_add_(1, idx, token_rewards)
    return out[:, :S]


def q_values(step_rewards: torch.Tensor) -> torch.Tensor:
    """Prefix rewards q_k = sum_{j <= k} r_j: (B, S) -> (B, S)."""
    return step_rewards.cumsum(-1)


def sequence_rewards(token_rewards: torch.Tensor, step_ids: torch.Tensor) -> torch.Tensor:
    """r(y): the sum of the token rewards of all step tokens, (B, T), (B, T) -> (B,)."""
    return (token_rewards * (step_ids >= 0)).sum(-1)


def implicit_ce_loss(seq_rewards: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
    """The cross-entropy objective on sequence-level implicit rewards.

    seq_rewards: (B,) r_phi(y). outcomes: (B,) in [0, 1] (1 = correct). Returns the
    mean of -[l log sigmoid(r) + (1 - l) log(1 - sigmoid(r))], a scalar.
    """
    return F.binary_cross_entropy_with_logits(seq_rewards, outcomes.to(seq_rewards.dtype))


def policy_format() -> StepFormat:
    """The policy's own text layout: prompt, newline, each step followed by a newline."""
    return StepFormat(tag="\n", tag_ids=None, prompt_sep="\n", bos=True)


class _BuiltinLM(nn.Module):
    def __init__(self, gpt: GPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.gpt(ids)  # right padding: no mask needed for the real tokens


class _HFLM(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=mask.long()).logits


class ImplicitPRM(StepModel):
    """pi_phi (trained) and pi_ref (frozen); step logit = q_k (see the module doc)."""

    kind = IMPLICIT_KIND

    def __init__(
        self,
        phi: nn.Module,
        ref: nn.Module,
        tok: Any,
        fmt: StepFormat,
        pad_id: int,
        beta: float = 0.05,
        backend: str = "builtin",
        meta: dict | None = None,
    ) -> None:
        super().__init__()
        self.phi = phi
        self.ref = frozen_copy(ref)
        self.tok, self.fmt, self.pad_id, self.beta = tok, fmt, pad_id, beta
        self.backend = backend
        self.meta = meta or {}
        if backend == "builtin":
            self.max_len = phi.gpt.cfg.block_size

    @classmethod
    def from_policy(cls, path: str, beta: float = 0.05) -> ImplicitPRM:
        """pi_phi and pi_ref both start from a policy: a built-in checkpoint or an HF causal LM."""
        cfg_path = Path(path) / "config.json"
        if not cfg_path.exists():
            raise InputError(
                "--init must be a policy checkpoint or a Hugging Face causal-LM folder", path
            )
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("kind") == "policy":
            from prmkit.models.builtin import BuiltinPolicy

            gpt = BuiltinPolicy.load(path).model
            tok = CharTokenizer()
            return cls(
                _BuiltinLM(gpt),
                _BuiltinLM(gpt),
                tok,
                policy_format(),
                tok.pad_id,
                beta,
                "builtin",
                {"init": str(path)},
            )
        if "model_type" in cfg:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
            pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
            return cls(
                _HFLM(model),
                _HFLM(model),
                tok,
                policy_format(),
                pad,
                beta,
                "hf",
                {"init": str(path)},
            )
        raise InputError(
            f"checkpoint is of kind {cfg.get('kind')!r}, expected a policy", str(cfg_path)
        )

    def train(self, mode: bool = True) -> ImplicitPRM:
        super().train(mode)
        self.ref.eval()  # the reference stays frozen and deterministic
        return self

    def token_rewards(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(token rewards (B, T), step ids (B, T)); rewards outside steps are zero."""
        ids, mask = batch.ids.to(self.device), batch.mask.to(self.device)
        step_of = batch.step_of.to(self.device)
        lp_phi = token_logprobs(self.phi(ids, mask), ids)
        with torch.no_grad():
            lp_ref = token_logprobs(self.ref(ids, mask), ids)
        r = implicit_token_rewards(lp_phi, lp_ref, self.beta) * (step_of >= 0)
        return r, step_of

    def step_logits(self, batch: Batch) -> torch.Tensor:
        r, step_of = self.token_rewards(batch)
        q = q_values(step_sums(r, step_of, batch.step_of.max().item() + 1))  # (B, S)
        n_steps = batch.tags.sum(1).tolist()
        return torch.cat([q[b, :n] for b, n in enumerate(n_steps)])

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        cfg = (
            {"backend": self.backend, "beta": self.beta, "format": self.fmt.to_dict()}
            | self.meta
            | (extra or {})
        )
        cfg["kind"] = IMPLICIT_KIND
        if self.backend == "builtin":
            cfg["gpt"] = self.phi.gpt.cfg.to_dict()
            state = {k: v for k, v in self.state_dict().items() if not k.endswith("head.weight")}
            return save_checkpoint(out_dir, state, cfg)
        d = Path(out_dir)
        for name, m in (("model", self.phi.model), ("ref", self.ref.model)):
            m.save_pretrained(d / name, safe_serialization=True)
            self.tok.save_pretrained(d / name)
        (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return d

    @classmethod
    def load(cls, ckpt_dir: str | Path, cfg: dict | None = None) -> ImplicitPRM:
        cfg = cfg or read_config(ckpt_dir, IMPLICIT_KIND)
        meta = {
            k: v for k, v in cfg.items() if k not in ("kind", "gpt", "beta", "backend", "format")
        }
        fmt = StepFormat.from_dict(cfg["format"])
        if cfg.get("backend") == "hf":
            from transformers import AutoModelForCausalLM, AutoTokenizer

            d = Path(ckpt_dir)
            tok = AutoTokenizer.from_pretrained(str(d / "model"), local_files_only=True)
            phi = AutoModelForCausalLM.from_pretrained(str(d / "model"), local_files_only=True)
            ref = AutoModelForCausalLM.from_pretrained(str(d / "ref"), local_files_only=True)
            pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
            return cls(_HFLM(phi), _HFLM(ref), tok, fmt, pad, cfg["beta"], "hf", meta).eval()
        gcfg = GPTConfig(**cfg["gpt"])
        tok = CharTokenizer()
        m = cls(
            _BuiltinLM(GPT(gcfg)),
            _BuiltinLM(GPT(gcfg)),
            tok,
            fmt,
            tok.pad_id,
            cfg["beta"],
            "builtin",
            meta,
        )
        m.load_state_dict(load_state(ckpt_dir), strict=False)
        for lm in (m.phi, m.ref):
            lm.gpt.head.weight = lm.gpt.tok.weight
        return m.eval()
