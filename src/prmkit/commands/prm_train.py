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
from prmkit.models.train_state import TrainState
from prmkit.prm.build import PRMModelSettings, build_model
from prmkit.prm.encoder_train import train_encoder_head, train_encoder_top
from prmkit.prm.train import TrainSettings, label_source, train_implicit, train_step_model


@dataclass(kw_only=True)
class Config(TrainSettings, PRMModelSettings):
    """`prmkit prm train`: the training settings (`TrainSettings`; --lr's default here
    depends on the objective), the model (`PRMModelSettings`) and the files."""

    RANGES: ClassVar[dict[str, str]] = {"beta": "> 0", "save_every": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    data: str
    """labeled samples: prmkit JSONL (labels.soft / labels.hard, else the exact first_error), or a TRL, ProcessBench, Math-Shepherd or PRM800K file (detected)"""
    out: str
    """output checkpoint directory (model.safetensors + config.json)"""
    objective: Literal["outcome", "step"] = "outcome"
    """implicit: outcome = cross-entropy of the whole solution's reward against its outcome (Yuan et al.; no step labels needed); step = binary cross-entropy of every prefix's reward against its step label (--labels hard|soft), the same parameterization trained on process labels"""
    labels: Literal["hard", "soft"] = "hard"
    """prm targets: hard 0/1 labels, or soft labels in [0, 1] (binary cross-entropy) where a sample has them"""
    save_every: int = 0
    """every N optimizer steps save the model to OUT/step-N and OUT/checkpoint.pt (weights, optimizer, RNG states, metrics; atomically) for --resume (0: only the final model in OUT)"""
    lr: float | None = None
    """peak learning rate (cosine decay); default 3e-4 for --kind implicit --objective step, else 1e-3"""
    beta: float | None = None
    """implicit: reward scale beta in beta * log(pi_phi / pi_ref); default 0.05 with --objective outcome (Yuan et al.), 1.0 with step"""
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
        if self.render != "none" and self.kind == "implicit":
            raise ValueError(
                "--render applies to --kind prm and orm (an implicit PRM reads the policy's text)"
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


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    samples = read_samples(cfg.data, invalid=invalid)
    skipped = report_skipped(invalid)
    t0 = time.time()
    torch.manual_seed(cfg.seed)  # the fresh head and weights: the same seed, the same PRM
    model = build_model(cfg, lr_and_beta(cfg)[1])
    lr = lr_and_beta(cfg)[0]
    s = TrainSettings(**{f.name: getattr(cfg, f.name) for f in fields(TrainSettings)} | {"lr": lr})
    rendered = {"render": cfg.render} if cfg.render != "none" else {}  # saved and reported
    extra = {"train": {"data": cfg.data, "labels": cfg.labels, "seed": cfg.seed}} | rendered

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
    extra |= {
        "train": log
        | {"data": cfg.data, "labels": cfg.labels, "label_source": source, "seed": cfg.seed}
        | ({"objective": cfg.objective} if cfg.kind == "implicit" else {})
    }
    model.save(cfg.out, extra)
    return (
        {"command": "prm train", "out": cfg.out, "kind": model.kind, "label_source": source}
        | rendered
        | log
        | {"skipped": skipped, "seconds": round(time.time() - t0, 1)}
    )
