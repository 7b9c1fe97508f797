"""Training loops: step PRMs (hard or soft labels), ORMs, implicit PRMs.

Every example goes through the model's `encode` (the one tagging function), so the
positions supervised here are exactly the positions read at scoring time.

- Step PRM: binary cross-entropy at each step tag on a target in [0, 1] (hard labels
  are 0/1; soft labels are e.g. Monte-Carlo success rates).
- ORM: the same loss at the final step's tag only, on the outcome.
- Implicit PRM: `implicit_ce_loss` on the sequence reward beta * sum log pi_phi/pi_ref
  against the outcome (see prmkit.prm.implicit).
- Implicit PRM on step labels: `train_step_model` works unchanged, because an
  `ImplicitPRM`'s step logit is its prefix reward q_k; the step BCE then fits
  sigmoid(q_k) to each step's label. A policy already knows which tokens it rarely
  writes; this parameterization starts from that knowledge, where a fresh head on the
  hidden state must discover it from one bit per step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from tqdm import tqdm

from prmkit.data import Sample
from prmkit.data.formats import hard_from_first_error, sample_labels
from prmkit.models.reproducible import clip_grad_norm_
from prmkit.models.train_state import TrainState
from prmkit.prm.implicit import ImplicitPRM, implicit_ce_loss, sequence_rewards
from prmkit.prm.models import StepModel
from prmkit.prm.tagging import IGNORE, Tagged, collate
from prmkit.schedule import OptimizerSettings, adamw, set_lr, warmup_cosine


@dataclass(kw_only=True)
class TrainSettings(OptimizerSettings):
    """What one PRM training run does (the optimizer's settings, the batch and the loss
    weight); `prmkit prm train`'s Config adds the model and files."""

    RANGES: ClassVar[dict[str, str]] = {"batch_size": ">= 1", "pos_weight": "> 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    steps: int = 400
    lr: float = 1e-3
    warmup: int = 20
    batch_size: int = 32
    """solutions per step"""
    pos_weight: float = 1.0
    """loss weight of correct-step targets relative to wrong-step targets"""


def step_targets(s: Sample, labels: str = "hard") -> list[float]:
    """Per-step targets of a labeled sample: its soft labels (labels="soft", when it has
    them), else its hard labels, else the exact first error."""
    lab = sample_labels(s)
    if labels == "soft" and lab.soft is not None:
        return list(lab.soft)
    hard = (
        lab.hard if lab.hard is not None else hard_from_first_error(lab.first_error, len(s.steps))
    )
    return [float(h) for h in hard]


def outcome(s: Sample) -> float:
    """1.0 if the solution is correct: its grade, else its labels' first error."""
    if s.correct is not None:
        return float(s.correct)
    return float(sample_labels(s).first_error < 0)


def label_source(samples: Sequence[Sample], labels: str) -> str:
    """The labeling method the targets come from, e.g. 'mc', 'verify', 'exact'."""
    methods = set()
    for s in samples:
        if s.labels is None:
            methods.add("exact")
        else:
            p = s.labels.provenance
            m = p.get("method") or p.get("source") or "labels"
            methods.add(f"{m}-soft" if labels == "soft" and s.labels.soft is not None else str(m))
    return "+".join(sorted(methods))


def train_loop(
    model: torch.nn.Module,
    examples: list,
    loss_fn,
    s: TrainSettings,
    desc: str,
    progress: bool,
    on_step: Callable[[int], None] | None = None,
    state: TrainState | None = None,
) -> dict:
    """AdamW with warm-up and cosine decay; `on_step(n)` runs after optimizer step n
    (1-based), e.g. to save intermediate checkpoints."""
    torch.manual_seed(s.seed)
    rng = random.Random(s.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = adamw(params, s)
    start = state.start({"model": model}, {"opt": opt}, rng) if state else 0
    losses = [r["loss"] for r in state.rows] if state else []
    model.train()
    t0 = time.time()
    bar = tqdm(range(start, s.steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        set_lr(opt, warmup_cosine(step, s.lr, s.warmup, s.steps))
        batch = [
            examples[rng.randrange(len(examples))] for _ in range(min(s.batch_size, len(examples)))
        ]
        loss = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        if state:
            state.log({"step": step + 1, "loss": losses[-1], "lr": opt.param_groups[0]["lr"]})
            state.step_done(step + 1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if on_step is not None:
            model.eval()
            on_step(step + 1)
            model.train()
    model.eval()
    k = max(1, len(losses) // 10)
    changed = sum(float((p.detach() - b).abs().max()) > 0 for p, b in zip(params, before))
    return {
        "loss_first": round(sum(losses[:k]) / k, 4),
        "loss_last": round(sum(losses[-k:]) / k, 4),
        "steps": s.steps,
        "examples": len(examples),
        "tensors_changed": f"{changed}/{len(params)}",
        "seconds": round(time.time() - t0, 1),
    }


def encode_for_training(
    model: StepModel, samples: Sequence[Sample], labels: str = "hard"
) -> list[Tagged]:
    """Tagged examples with targets: every step (PRM) or the final step's outcome (ORM)."""
    out = []
    for s in samples:
        if model.kind == "orm":
            targets: list[float | None] = [None] * (len(s.steps) - 1) + [outcome(s)]
        else:
            targets = list(step_targets(s, labels))
        out += model.windows(s.prompt, s.steps, targets)  # an encoder PRM: several
    return out


def step_loss(z: torch.Tensor, t: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Binary cross-entropy of (N,) tag logits against (N,) targets, over the tags that
    have one (IGNORE: none); correct-step targets weigh `pos_weight`."""
    t = t.to(z.device)
    keep = t != IGNORE
    w = torch.where(t[keep] > 0.5, pos_weight, 1.0)
    return F.binary_cross_entropy_with_logits(z[keep], t[keep], weight=w)


def train_step_model(
    model: StepModel,
    samples: Sequence[Sample],
    s: TrainSettings,
    labels: str = "hard",
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    state: TrainState | None = None,
) -> dict:
    """Train a step PRM or ORM in place; returns a log summary (loss first/last, ...).
    With `state`: checkpoints, metrics.jsonl and resume (models/train_state.py)."""
    examples = encode_for_training(model, samples, labels)

    def loss_fn(batch: list[Tagged]) -> torch.Tensor:
        b = collate(batch, model.pad_id)
        return step_loss(model.step_logits(b), b.targets[b.tags], s.pos_weight)

    return train_loop(model, examples, loss_fn, s, f"{model.kind} train", progress, on_step, state)


def train_implicit(
    model: ImplicitPRM,
    samples: Sequence[Sample],
    s: TrainSettings,
    progress: bool = True,
    state: TrainState | None = None,
) -> dict:
    """Train an implicit PRM on outcomes only (never on step labels)."""
    examples = [(model.encode(x.prompt, x.steps), outcome(x)) for x in samples]

    def loss_fn(batch: list[tuple[Tagged, float]]) -> torch.Tensor:
        b = collate([e for e, _ in batch], model.pad_id)
        r, step_of = model.token_rewards(b)
        y = torch.tensor([o for _, o in batch], device=r.device)
        return implicit_ce_loss(sequence_rewards(r, step_of), y)

    return train_loop(model, examples, loss_fn, s, "implicit train", progress, state=state)
