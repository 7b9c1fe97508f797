"""A published PRM behind the StepScorer protocol: one forward pass per solution.

Solutions are encoded by their format's recipe (`recipes.py`), grouped by length
(`length_buckets`) and right-padded, so every real token keeps its position and
causal context. The backbone's last hidden states are read only at the scoring
positions, and the format's head maps them to P(step correct):

- "lm":    softmax([h.W[good] + b, h.W[bad] + b])[0], W the language-model head;
           only these two rows are ever multiplied (no (T, vocab) logits);
- "cls":   softmax(head(h))[1], head the two-label token-classification head;
- "value": sigmoid(head(h)), head a Linear(d, 1) value head.

Heads run in float32 whatever the backbone's dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from prmkit.prm.published.recipes import Encoded
from prmkit.prm.tagging import length_buckets

Backbone = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(ids (B, T), mask (B, T)) -> last hidden states (B, T, d)."""

Head = Callable[[torch.Tensor], torch.Tensor]
"""(N, d) hidden states at the scoring positions -> (N,) P(step correct)."""


def lm_head(weight: torch.Tensor, bias: torch.Tensor | None, good: int, bad: int) -> Head:
    w = weight[[good, bad]].detach().float()  # (2, d)
    b = None if bias is None else bias[[good, bad]].detach().float()

    def head(h: torch.Tensor) -> torch.Tensor:
        bias = None if b is None else b.to(h.device)
        return torch.nn.functional.linear(h.float(), w.to(h.device), bias).softmax(-1)[:, 0]

    return head


def cls_head(module: torch.nn.Module) -> Head:
    module = module.float().eval()

    def head(h: torch.Tensor) -> torch.Tensor:
        return module.to(h.device)(h.float()).softmax(-1)[:, 1]

    return head


def value_head(module: torch.nn.Module) -> Head:
    module = module.float().eval()

    def head(h: torch.Tensor) -> torch.Tensor:
        return module.to(h.device)(h.float()).squeeze(-1).sigmoid()

    return head


def _pad(encoded: list[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(e.ids) for e in encoded)
    ids = torch.full((len(encoded), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), T), dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
    return ids, mask


class PublishedScorer:
    """A published PRM: `recipe` encodes, `backbone` runs, `head` scores.

    max_len: the model's context (longer solutions raise a ValueError naming the
    item and the limit); batch_size: most solutions per pass; max_tokens: about
    the most padded tokens per pass.
    """

    def __init__(
        self,
        recipe,
        backbone: Backbone,
        head: Head,
        pad_id: int,
        device: torch.device,
        max_len: int | None,
        batch_size: int = 16,
        max_tokens: int = 16384,
    ) -> None:
        self.recipe, self.backbone, self.head = recipe, backbone, head
        self.kind = recipe.name
        self.pad_id, self.device, self.max_len = pad_id, device, max_len
        self.batch_size, self.max_tokens = batch_size, max_tokens

    def encode(self, index: int, prompt: str, steps: list[str]) -> Encoded:
        try:
            e = self.recipe.encode(prompt, list(steps))
        except ValueError as err:
            raise ValueError(f"solution {index} ({_opening(prompt)}): {err}") from None
        if self.max_len is not None and len(e.ids) > self.max_len:
            raise ValueError(
                f"solution {index} ({_opening(prompt)}) is {len(e.ids)} tokens in the "
                f"{self.kind} format; the model's context is {self.max_len}"
            )
        return e

    @torch.inference_mode()
    def _read(self, encoded: list[Encoded], picks: list[list[int]]) -> list[list[float]]:
        """P(good) at positions picks[i] of encoded[i], in length-bucketed batches."""
        out: list[list[float]] = [[] for _ in encoded]
        lengths = [len(e.ids) for e in encoded]
        for chunk in length_buckets(lengths, self.max_tokens, self.batch_size):
            chunk = [i for i in chunk if picks[i]]
            if not chunk:
                continue
            ids, mask = _pad([encoded[i] for i in chunk], self.pad_id)
            h = self.backbone(ids.to(self.device), mask.to(self.device))  # (B, T, d)
            rows = torch.tensor([r for r, i in enumerate(chunk) for _ in picks[i]])
            cols = torch.tensor([p for i in chunk for p in picks[i]])
            p = self.head(h[rows.to(h.device), cols.to(h.device)]).cpu().tolist()
            k = 0
            for i in chunk:
                out[i] = p[k : k + len(picks[i])]
                k += len(picks[i])
        return out

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        encoded = [self.encode(i, p, s) for i, (p, s) in enumerate(items)]
        return self._read(encoded, [e.reads for e in encoded])

    def score_per_prefix(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """The slow reference: one sequence per prefix (steps 1..k), read at its last
        step, as the model cards score step k."""
        flat = [(i, k) for i, (_, steps) in enumerate(items) for k in range(1, len(steps) + 1)]
        encoded = [self.encode(i, items[i][0], items[i][1][:k]) for i, k in flat]
        scores = self._read(encoded, [e.reads[-1:] for e in encoded])
        out: list[list[float]] = [[] for _ in items]
        for (i, _), s in zip(flat, scores):
            out[i] += s
        return out


def _opening(prompt: str, n: int = 40) -> str:
    p = " ".join(prompt.split())
    return repr(p if len(p) <= n else p[: n - 3] + "...")
