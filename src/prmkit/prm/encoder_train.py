"""Training an encoder PRM's head on a frozen encoder (`--train-layers 0`): encode once,
train the head on the cached tag states.

With the encoder frozen, the hidden state at every step tag is fixed, so each training
window is encoded once (`tag_features`, no gradient) and the head p = sigmoid(w . h + b)
trains on those (N, d) states with the same loss and schedule as `train_step_model`
(binary cross-entropy, `--pos-weight`, AdamW, warm-up and cosine decay, `--batch-size`
solutions per step). The result is the same model that full training with every encoder
weight frozen would give, at the cost of one forward pass per window instead of one per
optimizer step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from prmkit.data import Sample
from prmkit.prm.encoder import EncoderStepModel, step_causal_mask
from prmkit.prm.tagging import IGNORE, collate, length_buckets
from prmkit.prm.train import TrainSettings, outcome, step_targets
from prmkit.schedule import adamw, set_lr, warmup_cosine


@dataclass
class TagFeatures:
    """x: (N, d) hidden states at the step tags; y: (N,) targets (IGNORE: none);
    sample: (N,) index of the solution; step: (N,) the step's index in it."""

    x: torch.Tensor
    y: torch.Tensor
    sample: torch.Tensor
    step: torch.Tensor


@torch.inference_mode()
def tag_features(
    model: EncoderStepModel,
    items: Sequence[tuple[str, list[str], list[float] | None]],
    max_tokens: int = 4096,
    progress: bool = False,
) -> TagFeatures:
    """The encoder's last hidden state at every step tag of (prompt, steps, targets)
    items, windows included, in (solution, step) order."""
    model.eval()
    rows = []
    for i, (prompt, steps, targets) in enumerate(items):
        rows += [(i, t) for t in model.windows(prompt, list(steps), targets)]
    xs, ys, ss, ks = [], [], [], []
    buckets = length_buckets([len(t.input_ids) for _, t in rows], max_tokens, 64)
    for chunk in tqdm(buckets, desc="encode", disable=not progress, leave=False):
        b = collate([rows[j][1] for j in chunk], model.pad_id, chunk)
        mask = step_causal_mask(b.step_of, b.mask)
        h = model.encoder(input_ids=b.ids, attention_mask=mask).last_hidden_state
        xs.append(h[b.tags].float())
        ys.append(b.targets[b.tags])
        ss.append(torch.tensor([rows[j][0] for j in chunk]).repeat_interleave(b.tags.sum(1)))
        ks.append(b.step_of[b.tags])
    x, y, s, k = (torch.cat(v) for v in (xs, ys, ss, ks))
    order = torch.argsort(s * 1_000_000 + k)
    return TagFeatures(x[order], y[order], s[order], k[order])


def head_scores(head: torch.nn.Linear, f: TagFeatures, n: int) -> list[list[float]]:
    """Per solution (n of them) its step scores sigmoid(w . h + b), in step order."""
    with torch.no_grad():
        p = torch.sigmoid(head(f.x).squeeze(-1)).tolist()
    out: list[list[float]] = [[] for _ in range(n)]
    for i, v in zip(f.sample.tolist(), p):
        out[i].append(v)
    return out


def train_head(
    head: torch.nn.Linear,
    f: TagFeatures,
    s: TrainSettings,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Fit the head on cached tag states: BCE over the tags of `s.batch_size` solutions
    drawn per step (seeded), AdamW with warm-up and cosine decay as in `train._loop`."""
    torch.manual_seed(s.seed)
    rng = random.Random(s.seed)
    keep = f.y != IGNORE
    sol = f.sample[keep]
    x, y = f.x[keep], f.y[keep]
    ids = sorted(set(sol.tolist()))
    by_sol = {i: (sol == i).nonzero().squeeze(1) for i in ids}
    opt = adamw(head.parameters(), s)
    losses, t0 = [], time.time()
    before = [p.detach().clone() for p in head.parameters()]
    for step in tqdm(range(s.steps), desc="head train", disable=not progress, leave=False):
        set_lr(opt, warmup_cosine(step, s.lr, s.warmup, s.steps))
        pick = torch.cat([by_sol[ids[rng.randrange(len(ids))]] for _ in range(s.batch_size)])
        z = head(x[pick]).squeeze(-1)
        w = torch.where(y[pick] > 0.5, s.pos_weight, 1.0)
        loss = F.binary_cross_entropy_with_logits(z, y[pick], weight=w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step + 1)
    k = max(1, len(losses) // 10)
    changed = sum(not torch.equal(p, b) for p, b in zip(head.parameters(), before))
    return {
        "loss_first": round(sum(losses[:k]) / k, 4),
        "loss_last": round(sum(losses[-k:]) / k, 4),
        "steps": s.steps,
        "examples": len(ids),
        "tensors_changed": f"{changed}/{len(before)} (head; encoder frozen)",
        "seconds": round(time.time() - t0, 1),
    }


def targets(model: EncoderStepModel, x: Sample, labels: str) -> list:
    """Every step's target (prm), or the outcome at the final step only (orm)."""
    if model.kind == "orm":
        return [None] * (len(x.steps) - 1) + [outcome(x)]
    return list(step_targets(x, labels))


def train_encoder_head(
    model: EncoderStepModel,
    samples: Sequence[Sample],
    s: TrainSettings,
    labels: str = "hard",
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """`--train-layers 0`: the frozen encoder encodes every window once, the head trains."""
    t0 = time.time()
    items = [(x.prompt, x.steps, targets(model, x, labels)) for x in samples]
    f = tag_features(model, items, progress=progress)
    encode_s = time.time() - t0
    log = train_head(model.head, f, s, progress, on_step)
    return log | {"encode_seconds": round(encode_s, 1)}
