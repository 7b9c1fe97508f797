"""int8 scoring of an encoder PRM on CPU: dynamic quantization of the encoder's Linear
layers, with SmoothQuant's per-channel smoothing.

A Linear y = x W^T + b becomes

    y = q(x / s) q(W diag(s))^T + b                          x: (T, K), W: (N, K), s: (K,)

with q(.) int8 quantization: W diag(s) per output row, symmetric, once; x / s per
window and per call (dynamic: the scale comes from the window's own min and max, as in
`torch.ao.quantization.quantize_dynamic`), the product accumulated in int32 by fbgemm
(`torch.ops.quantized.linear_dynamic`). Activations use 7 bits (`reduce_range`, as
PyTorch does on x86): CPUs without VNNI multiply pairs of u8 x s8 into int16, which
8-bit activations saturate (a random 64 -> 48 Linear: 12% relative error with 8 bits,
1.2% with 7).

Outliers. In all-MiniLM-L6-v2 the [CLS] token's inputs to the feed-forward layers reach
20-30 where other tokens stay below 10 (median 2-4), and one channel carries most of it.
Position 0 of every window ([CLS]) is therefore computed in fp32, and SmoothQuant (Xiao
et al. 2023, "SmoothQuant: Accurate and Efficient Post-Training Quantization for Large
Language Models", arXiv:2211.10438, eq. 4) moves the channels' range into the weights:

    s_j = max|x_j|^alpha / max_i |W_ij|^(1 - alpha),   alpha = 0.5

with max|x_j| measured once, in fp32, on `CALIBRATION` (a fixed built-in text), so a
quantized PRM does not depend on what it scores first. Padding positions are skipped
(left 0: no real token attends to them).

Only the encoder's transformer layers are quantized; the embeddings, the attention
itself (softmax(QK^T) V), layer norms and the PRM's head stay fp32. A window's scores
depend on its own tokens only, as in fp32, but fp32 rounding differences (a different
padding length) can flip an int8 rounding, so the same window scores within the
quantization error, not bit-exactly, in another batch. Training is never quantized:
`quantize_encoder` is for scoring (`--quantize int8`). The quantized-tensor API used here
is deprecated in favour of torchao, whose CPU int8 matmul (`torch._int_mm`) is 25x
slower than fp32 on this CPU (2026-12).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

QUANTIZE_MODES = ("none", "int8")
ALPHA = 0.5
CALIBRATION = [
    (
        "A baker makes 24 muffins in the morning and 3 times as many in the afternoon. "
        "She sells 5/8 of them and gives away 12. How many muffins are left?",
        [
            "In the afternoon she makes 3 * 24 = 72 muffins.",
            "So she has 24 + 72 = 96 muffins in total.",
            "She sells 5/8 of them, which is 96 * 5 / 8 = 60 muffins.",
            "After giving away 12, she has 96 - 60 - 12 = 24 muffins left.",
            "The answer is $\\boxed{24}$.",
        ],
    ),
    (
        "Let $f(x) = x^2 - 4x + 7$. Find the minimum value of $f$ on the real line, "
        "and the point where it is reached.",
        [
            "Complete the square: $f(x) = (x - 2)^2 + 3$.",
            "Since $(x - 2)^2 \\ge 0$, we get $f(x) \\ge 3$ for every real $x$.",
            "Equality holds when $x = 2$, so the minimum is 3, reached at $x = 2$.",
            "Therefore the answer is $\\boxed{3}$.",
        ],
    ),
]
"""(problem, steps) pairs whose fp32 activations set the smoothing factors s."""


class RowLengths:
    """The real length of every row of the batch the encoder reads now, set by a forward
    pre-hook on the encoder (`quantize_encoder`), or, on the scorer's own pass
    (`encoder_tags.tag_states`, which does not call the encoder's forward), by the
    scorer through the model's `row_lengths`; None: every position is real."""

    def __init__(self) -> None:
        self.n: list[int] | None = None

    def hook(self, _module, _args, kwargs) -> None:
        """From the attention mask: a 4-D step-causal mask is True on the diagonal at
        real tokens only; a 2-D mask marks them. Right padding."""
        m = kwargs.get("attention_mask")
        if m is None:
            self.n = None
        elif m.dim() == 4:
            self.n = m[:, 0].diagonal(dim1=-2, dim2=-1).bool().sum(-1).tolist()
        else:
            self.n = m.bool().sum(-1).tolist()


class SmoothInt8Linear(nn.Module):
    """A Linear as int8 x int8 -> int32 (fbgemm) on `x / smooth`, one activation scale
    per sequence over its real tokens; position 0 of each sequence ([CLS]) stays fp32;
    padding positions are left 0 (no real token reads them)."""

    def __init__(self, linear: nn.Linear, smooth: torch.Tensor, rows: RowLengths) -> None:
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
        b = linear.bias
        self.bias = None if b is None else nn.Parameter(b.detach().clone(), requires_grad=False)
        w = self.weight.float() * smooth[None, :]
        scale = (w.abs().amax(1) / 127).clamp_min(1e-12).double()
        zero = torch.zeros(w.shape[0], dtype=torch.long)
        with warnings.catch_warnings():  # quantized tensors are deprecated for torchao
            warnings.simplefilter("ignore")
            qw = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
        bias = None if self.bias is None else self.bias.float()
        self._packed = torch.ops.quantized.linear_prepack(qw, bias)
        self.register_buffer("inv_smooth", 1.0 / smooth)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.rows = rows

    def int8(self, x: torch.Tensor) -> torch.Tensor:
        """(..., K) -> (..., N), int8 with one activation scale for all of `x`."""
        return torch.ops.quantized.linear_dynamic(x * self.inv_smooth, self._packed, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            return self.int8(x.float()).to(x.dtype)
        B, T = x.shape[:2]
        n = self.rows.n if self.rows.n is not None and len(self.rows.n) == B else [T] * B
        y = torch.zeros(B, T, self.out_features)
        y[:, :1] = F.linear(x[:, :1].float(), self.weight.float(), self.bias)
        for b in range(B):
            if n[b] > 1:
                y[b, 1 : n[b]] = self.int8(x[b, 1 : n[b]].float())
        return y.to(x.dtype)


def smoothing(x_absmax: torch.Tensor, weight: torch.Tensor, alpha: float = ALPHA):
    """(K,) input channel maxima and (N, K) weight -> (K,) s = max|x|^a / max|W|^(1-a)."""
    w_absmax = weight.detach().abs().amax(0)
    s = x_absmax.clamp_min(1e-5) ** alpha / w_absmax.clamp_min(1e-5) ** (1 - alpha)
    return s.clamp_min(1e-5)


@torch.inference_mode()
def input_absmax(model, layers: dict[str, nn.Linear], rows: RowLengths, items):
    """Per Linear of `layers`, each input channel's largest |x| over the positions that
    `SmoothInt8Linear` quantizes (a row's real tokens after position 0), while `model`
    (an EncoderStepModel, fp32, `rows` hooked to its encoder) reads `items`."""
    from prmkit.prm.encoder import EncoderScorer

    seen: dict[str, torch.Tensor] = {}

    def hook(name):
        def record(_mod, inp, _out):
            x = inp[0].detach()
            n = rows.n or [x.shape[1]] * x.shape[0]
            x = torch.cat([x[b, 1 : n[b]] for b in range(x.shape[0])]).abs().amax(0).float()
            seen[name] = torch.maximum(seen[name], x) if name in seen else x

        return record

    handles = [lin.register_forward_hook(hook(n)) for n, lin in layers.items()]
    try:
        EncoderScorer(model, skip_unread=False).logits(list(items))  # every Linear, every row
    finally:
        for h in handles:
            h.remove()
    return seen


def quantize_encoder(model, mode: str = "int8", calibration=CALIBRATION):
    """`model` (an EncoderStepModel on CPU) with every Linear of its transformer layers
    replaced by a `SmoothInt8Linear` (mode int8), in place; mode none leaves it as it is.
    The head, embeddings and pooler stay fp32."""
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"quantize mode {mode!r}: expected one of {', '.join(QUANTIZE_MODES)}")
    if mode == "none":
        return model
    if model.device.type != "cpu":
        raise ValueError(f"int8 quantization runs on CPU (fbgemm); the PRM is on {model.device}")
    layers = {
        f"{parent}.{child}" if parent else child: lin
        for parent, mod in model.encoder.encoder.named_modules()
        for child, lin in mod.named_children()
        if isinstance(lin, nn.Linear)
    }
    rows = RowLengths()
    model.encoder.register_forward_pre_hook(rows.hook, with_kwargs=True)
    model.row_lengths = rows
    absmax = input_absmax(model.eval(), layers, rows, calibration)
    for name, lin in layers.items():
        parent, _, child = name.rpartition(".")
        owner = model.encoder.encoder.get_submodule(parent) if parent else model.encoder.encoder
        setattr(owner, child, SmoothInt8Linear(lin, smoothing(absmax[name], lin.weight), rows))
    return model
