"""The ONE place where step tags are placed and step labels mapped to token positions.

Training, scoring, evaluation and the implicit PRM all call `tag_steps`, so the
separator can never be tokenized one way in training and another at test time.

Layout of one tagged example (pieces are tokenized separately, then concatenated):

    [bos] + enc(prompt) + enc(prompt_sep) + enc(step_1) + TAG + ... + enc(step_n) + TAG

TAG is either fixed token ids (the built-in `<step>` token) or the ids of a tag text
(`"\\n"`, `" ки"`) encoded on its own. The label of step i sits on the LAST token of
its TAG; every other position is unsupervised (IGNORE). Encoding each piece on its
own means a BPE merge can never fuse a tag with the text around it, which is the
classic cause of labels landing on the wrong token. With `prompt_sep=""` and the
tokenizer's BOS this is exactly TRL's `PRMTrainer.tokenize_row`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import torch

IGNORE = -100.0
"""Target value at unsupervised positions (and TRL's label for them)."""


@dataclass
class StepFormat:
    """How steps are laid out in tokens.

    tag: text of the step-end tag (encoded on its own), or None to use `tag_ids`.
    tag_ids: fixed token ids of the tag (e.g. the built-in tokenizer's `<step>`).
    prompt_sep: text between the prompt and the first step ("" for TRL's layout).
    bos: start with the tokenizer's BOS token when it has one.
    """

    tag: str | None = "\n"
    tag_ids: list[int] | None = None
    prompt_sep: str = "\n"
    bos: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StepFormat:
        return cls(**{k: d[k] for k in ("tag", "tag_ids", "prompt_sep", "bos") if k in d})


@dataclass
class Tagged:
    """One tokenized solution.

    input_ids: (T,) token ids. tag_positions: (n_steps,) index of each step's tag
    token, strictly increasing. targets: (T,) the step label at its tag, IGNORE
    elsewhere (and at tags of steps given no label). step_of: (T,) the step each
    token belongs to (its text and its tag), -1 for BOS, prompt and prompt_sep.
    """

    input_ids: list[int]
    tag_positions: list[int]
    targets: list[float] = field(default_factory=list)
    step_of: list[int] = field(default_factory=list)


def encoder(tok: Any) -> tuple[Callable[[str], list[int]], int | None]:
    """(text -> ids without special tokens, BOS id or None) for any supported tokenizer.

    Supports the built-in CharTokenizer, a `tokenizers.Tokenizer`, and any Hugging
    Face tokenizer (`PreTrainedTokenizerBase`).
    """
    from prmkit.models.tokenizer import CharTokenizer

    if isinstance(tok, CharTokenizer):
        return tok.encode, tok.bos_id
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - tokenizers is a core dependency
        Tokenizer = None  # type: ignore[assignment]
    if Tokenizer is not None and isinstance(tok, Tokenizer):
        bos = None
        for name in ("<bos>", "<s>", "<|begin_of_text|>", "[BOS]"):
            if tok.token_to_id(name) is not None:
                bos = tok.token_to_id(name)
                break
        return (lambda text: tok.encode(text, add_special_tokens=False).ids), bos
    if callable(tok) and hasattr(tok, "bos_token_id"):
        # verbose=False: a text longer than the model's positions is expected here (its
        # steps are windowed later), so transformers' "longer than the maximum" warning
        # would only alarm the user.
        return (
            lambda text: list(tok(text, add_special_tokens=False, verbose=False)["input_ids"])
        ), tok.bos_token_id
    raise TypeError(f"unsupported tokenizer type {type(tok).__name__}")


def tag_steps(
    tok: Any,
    prompt: str,
    steps: Sequence[str],
    fmt: StepFormat,
    labels: Sequence[float | bool | None] | None = None,
) -> Tagged:
    """Tokenize a solution with one tag per step and put each step's label on its tag.

    labels: one per step (bool, or a float in [0, 1] for soft labels), None for a step
    that is not supervised (an ORM supervises only the last); None = no labels.
    """
    if labels is not None and len(labels) != len(steps):
        raise ValueError(f"{len(labels)} labels for {len(steps)} steps")
    enc, bos = encoder(tok)
    if fmt.tag_ids is not None:
        tag = list(fmt.tag_ids)
    elif fmt.tag is not None:
        tag = enc(fmt.tag)
    else:
        raise ValueError("a StepFormat needs a tag text or tag ids")
    if not tag:
        raise ValueError(f"the step tag {fmt.tag!r} encodes to no tokens")
    ids: list[int] = [bos] if fmt.bos and bos is not None else []
    ids += enc(prompt)
    if fmt.prompt_sep:
        ids += enc(fmt.prompt_sep)
    step_of = [-1] * len(ids)
    positions = []
    for i, step in enumerate(steps):
        piece = enc(step) + tag
        ids += piece
        step_of += [i] * len(piece)
        positions.append(len(ids) - 1)
    targets = [IGNORE] * len(ids)
    if labels is not None:
        for pos, lab in zip(positions, labels):
            if lab is not None:
                targets[pos] = float(lab)
    return Tagged(ids, positions, targets, step_of)


@dataclass
class Batch:
    """Right-padded tensors for a list of Tagged examples.

    ids: (B, T) long. mask: (B, T) bool, True at real tokens. targets: (B, T) float,
    IGNORE where unsupervised. tags: (B, T) bool, True at every step tag.
    step_of: (B, T) long, -1 outside steps. order: the examples' indices in the batch.
    tag_at: (B, Q) long, each row's tag positions ascending, Q = most tags in a row,
    padded with 0; tag_valid: (B, Q) bool. y[tag_valid] of a (B, Q, ...) tensor read at
    tag_at lists the tags in the order of x[tags] of a (B, T, ...) one.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    targets: torch.Tensor
    tags: torch.Tensor
    step_of: torch.Tensor
    order: list[int]
    tag_at: torch.Tensor
    tag_valid: torch.Tensor


def _ragged_index(counts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every element of ragged rows of `counts` lengths, flattened in
    row-major order: counts [2, 1] -> rows [0, 0, 1], columns [0, 1, 0]."""
    n = np.asarray(counts)
    rows = np.repeat(np.arange(n.size), n)
    return rows, np.arange(rows.size) - np.repeat(np.cumsum(n) - n, n)


def collate(examples: Sequence[Tagged], pad_id: int, order: list[int] | None = None) -> Batch:
    """Right padding keeps every real token's position and causal context unchanged."""
    B = len(examples)
    lengths = [len(e.input_ids) for e in examples]
    T = max(lengths)
    Q = max(max(len(e.tag_positions) for e in examples), 1)
    # Scatter flat numpy arrays into place and convert once: building tensors from
    # nested Python lists took a sixth of a small PRM's scoring time on a server batch.
    rows, cols = _ragged_index(lengths)
    tag_rows, tag_cols = _ragged_index([len(e.tag_positions) for e in examples])
    tag_pos = np.fromiter(chain.from_iterable(e.tag_positions for e in examples), np.int64)
    ids = np.full((B, T), pad_id, dtype=np.int64)
    ids[rows, cols] = np.fromiter(chain.from_iterable(e.input_ids for e in examples), np.int64)
    at = np.zeros((B, Q), dtype=np.int64)
    at[tag_rows, tag_cols] = tag_pos  # tag_steps emits them ascending
    valid = np.zeros((B, Q), dtype=bool)
    valid[tag_rows, tag_cols] = True
    tags = np.zeros((B, T), dtype=bool)
    tags[tag_rows, tag_pos] = True
    targets = np.full((B, T), IGNORE, dtype=np.float32)
    step_of = np.full((B, T), -1, dtype=np.int64)
    for i, e in enumerate(examples):  # hand-built Tagged examples may leave them empty
        if e.targets:
            targets[i, : lengths[i]] = e.targets
        if e.step_of:
            step_of[i, : lengths[i]] = e.step_of
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    return Batch(
        torch.from_numpy(ids),
        torch.from_numpy(mask),
        torch.from_numpy(targets),
        torch.from_numpy(tags),
        torch.from_numpy(step_of),
        list(range(B)) if order is None else order,
        torch.from_numpy(at),
        torch.from_numpy(valid),
    )


def length_buckets(lengths: Sequence[int], max_tokens: int, max_batch: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted), each at most `max_batch`
    rows and about `max_tokens` padded tokens, so little compute goes to padding."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted ascending: the newest is the longest
        if cur and (len(cur) + 1 > max_batch or (len(cur) + 1) * longest > max_tokens):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def trl_row(
    tok: Any,
    prompt: str,
    completions: Sequence[str],
    labels: Sequence[bool],
    step_separator: str = "\n",
    train_on_last_step_only: bool = False,
) -> dict:
    """A TRL stepwise record as TRL's `PRMTrainer.tokenize_row` tokenizes it (no
    truncation): `{"input_ids", "labels"}`, label int(label) on each step's last
    separator token, -100 elsewhere. Built by `tag_steps`, so it is our own training
    example, in TRL's layout (no text between prompt and first step, BOS if any)."""
    labs: list[bool | None] = list(labels)
    if train_on_last_step_only:
        labs = [None] * (len(labs) - 1) + labs[-1:]
    t = tag_steps(
        tok, prompt, completions, StepFormat(tag=step_separator, prompt_sep="", bos=True), labs
    )
    return {
        "input_ids": t.input_ids,
        "labels": [-100 if x == IGNORE else int(x) for x in t.targets],
    }
