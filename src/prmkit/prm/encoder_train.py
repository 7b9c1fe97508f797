"""Training an encoder PRM with its lower part frozen: encode once, train the rest.

`--train-layers 0` (the head alone) and `--train-layers N` (the top N layers and the
head) both freeze everything below what trains, so what enters the trainable part is
fixed: it is computed once per window and cached, and each optimizer step runs only the
trainable part.

With the encoder frozen, the hidden state at every step tag is fixed, so each training
window is encoded once (`tag_features`, no gradient) and the head p = sigmoid(w . h + b)
trains on those (N, d) states with the same loss and schedule as `train_step_model`
(binary cross-entropy, `--pos-weight`, AdamW, warm-up and cosine decay, `--batch-size`
solutions per step). The result is the same model that full training with every encoder
weight frozen would give, at the cost of one forward pass per window instead of one per
optimizer step.

With `--train-layers N` (0 < N < layers) the cache holds, for every window, the hidden
states entering layer L-N (`lower_states`, the frozen part in eval mode, so without
dropout); each step runs layers L-N.. and the head on a batch of them under the same
step-causal mask (`top_logits`), with `train.train_loop`'s AdamW, schedule and clipping. One
step then costs N/L of a full forward and its backward instead of L/L.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from prmkit.data import Sample
from prmkit.models.train_state import TrainState
from prmkit.prm.encoder import EncoderStepModel, step_causal_mask
from prmkit.prm.tagging import IGNORE, Batch, Tagged, collate, length_buckets
from prmkit.prm.train import TrainSettings, outcome, step_loss, step_targets, train_loop
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
    drawn per step (seeded), AdamW with warm-up and cosine decay as in `train.train_loop`."""
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
        loss = step_loss(head(x[pick]).squeeze(-1), y[pick], s.pos_weight)
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


def trim_unlabeled(steps: list[str], targets: list) -> tuple[list[str], list]:
    """Drop the steps after the last one with a target: under the step-causal mask they
    cannot change an earlier tag's state, so training loses nothing (ProcessBench labels
    nothing after the first error, so this skips most of a long wrong solution)."""
    last = max((i for i, t in enumerate(targets) if t is not None), default=-1)
    return list(steps[: last + 1]), list(targets[: last + 1])


def training_items(
    model: EncoderStepModel, samples: Sequence[Sample], labels: str
) -> list[tuple[str, list[str], list]]:
    """(prompt, steps, targets) per sample that has a target, trimmed after its last."""
    out = []
    for x in samples:
        steps, t = trim_unlabeled(x.steps, targets(model, x, labels))
        if steps:
            out.append((x.prompt, steps, t))
    return out


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
    f = tag_features(model, training_items(model, samples, labels), progress=progress)
    encode_s = time.time() - t0
    log = train_head(model.head, f, s, progress, on_step)
    return log | {"encode_seconds": round(encode_s, 1)}


def run_layers(
    model: EncoderStepModel, h: torch.Tensor, mask: torch.Tensor, lo: int, hi: int
) -> torch.Tensor:
    """(B, T, d) states through the encoder's layers lo..hi-1 under a (B, 1, T, T) mask:
    the one way the cache's lower part and the trained upper part run."""
    for layer in model.encoder.encoder.layer[lo:hi]:
        h = layer(h, attention_mask=mask)
        h = h[0] if isinstance(h, tuple) else h  # transformers 4.x returns a tuple
    return h


@torch.inference_mode()
def lower_states(
    model: EncoderStepModel,
    examples: Sequence[Tagged],
    split: int,
    max_tokens: int = 4096,
    progress: bool = False,
) -> list[torch.Tensor]:
    """For every window, the (T_i, d) hidden states entering layer `split` (0: the
    embeddings' output), unpadded, under the step-causal mask, the encoder in eval mode.
    Only the embeddings and the `split` layers below run: what the cache holds."""
    model.eval()
    out: list[torch.Tensor] = [torch.empty(0)] * len(examples)
    buckets = length_buckets([len(t.input_ids) for t in examples], max_tokens, 64)
    for chunk in tqdm(buckets, desc="encode lower layers", disable=not progress, leave=False):
        b = collate([examples[j] for j in chunk], model.pad_id, chunk)
        mask = step_causal_mask(b.step_of, b.mask)
        h = run_layers(model, model.encoder.embeddings(input_ids=b.ids), mask, 0, split)
        for row, j in enumerate(chunk):
            out[j] = h[row, : len(examples[j].input_ids)].clone()
    return out


def top_logits(
    model: EncoderStepModel, split: int, states: Sequence[torch.Tensor], b: Batch
) -> torch.Tensor:
    """(N,) one logit per tag: layers `split`.. and the head over cached (T_i, d) states,
    right-padded to b's length, under b's step-causal mask."""
    h = torch.zeros(len(states), b.ids.shape[1], states[0].shape[-1])
    for row, x in enumerate(states):
        h[row, : len(x)] = x
    h = run_layers(model, h, step_causal_mask(b.step_of, b.mask), split, model.n_layers)
    return model.head(h[b.tags]).squeeze(-1)


def train_top_on_states(
    model: EncoderStepModel,
    split: int,
    examples: Sequence[Tagged],
    states: Sequence[torch.Tensor],
    s: TrainSettings,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    state: TrainState | None = None,
) -> dict:
    """Train layers `split`.. and the head on windows whose lower states are cached."""
    pairs = list(zip(examples, states))

    def loss_fn(batch: list[tuple[Tagged, torch.Tensor]]) -> torch.Tensor:
        b = collate([t for t, _ in batch], model.pad_id)
        z = top_logits(model, split, [x for _, x in batch], b)
        return step_loss(z, b.targets[b.tags], s.pos_weight)

    return train_loop(model, pairs, loss_fn, s, f"{model.kind} train", progress, on_step, state)


@torch.inference_mode()
def top_scores(
    model: EncoderStepModel,
    split: int,
    examples: Sequence[Tagged],
    states: Sequence[torch.Tensor],
    owner: Sequence[int],
    max_tokens: int = 4096,
) -> list[list[float]]:
    """Per solution the step scores sigmoid(logit), in step order, from the cached lower
    states of its windows (`owner[j]`: the solution of window j, 0..n-1)."""
    model.eval()
    out: list[dict[int, float]] = [{} for _ in range(max(owner, default=-1) + 1)]
    buckets = length_buckets([len(t.input_ids) for t in examples], max_tokens, 64)
    for chunk in buckets:
        b = collate([examples[j] for j in chunk], model.pad_id, chunk)
        z = torch.sigmoid(top_logits(model, split, [states[j] for j in chunk], b)).tolist()
        k = 0
        for j in chunk:
            t = examples[j]
            for pos in t.tag_positions:
                out[owner[j]][t.step_of[pos]] = z[k]
                k += 1
    return [[d[i] for i in sorted(d)] for d in out]


def train_encoder_top(
    model: EncoderStepModel,
    samples: Sequence[Sample],
    s: TrainSettings,
    train_layers: int,
    labels: str = "hard",
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    state: TrainState | None = None,
) -> dict:
    """`--train-layers N`, 0 < N < layers: the frozen layers run once per window, then
    the top N layers and the head train on the cached states (module doc)."""
    t0 = time.time()
    split = model.n_layers - train_layers
    items = training_items(model, samples, labels)
    examples = [w for p, steps, t in items for w in model.windows(p, steps, t)]
    states = lower_states(model, examples, split, progress=progress)
    encode_s = time.time() - t0
    log = train_top_on_states(model, split, examples, states, s, progress, on_step, state)
    return log | {"encode_seconds": round(encode_s, 1), "cached_below_layer": split}
