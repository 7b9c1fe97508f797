"""One-pass step scoring, and `load_prm` that opens any PRM checkpoint as a StepScorer.

A solution is encoded once with a tag after every step (`tagging.tag_steps`); one
causal forward pass reads all tags, so step k's score sees exactly the prompt and
steps 1..k. Solutions are grouped by length (`length_buckets`) so batches carry
little padding. `score_per_prefix` is the slow reference (one pass per prefix) that
the benchmark and the tests compare against.
"""

from __future__ import annotations

from pathlib import Path

import torch

from prmkit.data import InputError
from prmkit.models.checkpoint import check_kind, folder_config, read_config
from prmkit.prm.implicit import IMPLICIT_KIND, ImplicitPRM
from prmkit.prm.models import STEP_KINDS, BuiltinStepModel, HFStepModel, StepModel
from prmkit.prm.render import render_of
from prmkit.prm.rule import RulePRM
from prmkit.prm.scorer import StepScorer
from prmkit.prm.tagging import collate, length_buckets

ALL_KINDS = (*STEP_KINDS, IMPLICIT_KIND, "rule", "surprise")


class ModelScorer:
    """A trained PRM (any `StepModel`) behind the StepScorer protocol.

    max_tokens: padded tokens per forward pass (default: 2048 on CPU, 16384 on an
    accelerator); max_batch: solutions per pass.
    """

    def __init__(
        self, model: StepModel, max_tokens: int | None = None, max_batch: int = 256
    ) -> None:
        self.model = model.eval()
        self.kind = model.kind
        if max_tokens is None:
            # On CPU, passes of about 2k tokens keep activations in cache: per solution
            # they cost 20-28% less than 16k-token passes (benchmarks/score_pass_size.py);
            # accelerators want the biggest passes that fit.
            max_tokens = 2048 if model.device.type == "cpu" else 16384
        self.max_tokens = max_tokens
        self.max_batch = max_batch

    @torch.inference_mode()
    def _per_step(self, items: list[tuple[str, list[str]]], probs: bool) -> list[list[float]]:
        encoded = [self.model.encode(p, list(steps)) for p, steps in items]
        out: list[list[float]] = [[] for _ in items]
        for chunk in length_buckets(
            [len(e.input_ids) for e in encoded], self.max_tokens, self.max_batch
        ):
            batch = collate([encoded[i] for i in chunk], self.model.pad_id, chunk)
            z = self.model.step_logits(batch).float()
            z = (z.sigmoid() if probs else z).cpu().tolist()
            k = 0
            for i in chunk:
                n = len(encoded[i].tag_positions)
                out[i] = z[k : k + n]
                k += n
        return out

    def logits(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """Per-step logits (sigmoid gives the probability), one pass per solution."""
        return self._per_step(items, probs=False)

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        return self._per_step(items, probs=True)


@torch.no_grad()
def score_per_prefix(
    model: StepModel,
    items: list[tuple[str, list[str]]],
    max_tokens: int = 16384,
    max_batch: int = 256,
) -> list[list[float]]:
    """The naive reference: one forward pass per prefix, reading the last tag each time."""
    model.eval()
    flat = [(i, k) for i, (_, steps) in enumerate(items) for k in range(1, len(steps) + 1)]
    encoded = [model.encode(items[i][0], list(items[i][1][:k])) for i, k in flat]
    z_all = [0.0] * len(flat)
    for chunk in length_buckets([len(e.input_ids) for e in encoded], max_tokens, max_batch):
        batch = collate([encoded[j] for j in chunk], model.pad_id, chunk)
        z = model.step_logits(batch)
        ends = batch.tags.sum(1).cumsum(0) - 1  # the last tag of each row
        for j, v in zip(chunk, z[ends].float().cpu().tolist()):
            z_all[j] = v
    out: list[list[float]] = [[] for _ in items]
    for (i, _), v in zip(flat, z_all):
        out[i].append(float(torch.tensor(v).sigmoid()))
    return out


def load_step_model(ckpt_dir: str | Path, cfg: dict | None = None) -> StepModel:
    """A discriminative PRM or ORM checkpoint (any backend); `cfg`: its config.json when
    the caller has read it already."""
    cfg = cfg or read_config(ckpt_dir, STEP_KINDS)
    render = render_of(cfg, str(Path(ckpt_dir) / "config.json"))
    if cfg.get("backend") == "hf":
        model: StepModel = HFStepModel.load(ckpt_dir, cfg)
    elif cfg.get("backend") == "encoder":
        from prmkit.prm.encoder import EncoderStepModel

        model = EncoderStepModel.load(ckpt_dir, cfg)
    else:
        model = BuiltinStepModel.load(ckpt_dir, cfg)
    model.render = render  # the view it was trained on, wherever it scores
    return model


def load_prm(
    path: str,
    prm_format: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    quantize: str = "none",
    **kw,
) -> StepScorer:
    """Any PRM as a StepScorer: "rule" / "rule:WORLD", a checkpoint folder whose
    config.json kind is prm, orm, implicit-prm, rule or surprise, or a published PRM's folder
    or hub id (`prmkit.prm.published`, in `prm_format` or the detected one).

    device (default: a published PRM on cuda when there is one, a prmkit model where
    it loads), dtype (auto, float32, bfloat16, float16), batch_size (most solutions per
    pass: 16 published, 256 prmkit) and `max_tokens` place and batch a model PRM.
    quantize: none, or int8 for an encoder PRM on CPU (`prmkit.prm.encoder_quant`);
    `workers` (default 1): an encoder PRM's scoring processes (`EncoderScorer`).
    """
    from prmkit.prm.published import is_published, load_published, place

    folder = Path(path)
    cfg = folder_config(folder) if (folder / "config.json").is_file() else None
    # an encoder PRM takes --quantize and --workers; a surprise PRM passes them to its base
    encoder = cfg is not None and (cfg.get("backend") == "encoder" or cfg.get("kind") == "surprise")
    if quantize != "none" and not encoder:
        raise InputError(f"--quantize {quantize} applies to encoder PRMs only", path)
    workers = kw.pop("workers", 1)
    if workers != 1 and not encoder:
        raise InputError(f"--workers {workers} applies to encoder PRMs only", path)
    if is_published(path, prm_format, cfg):
        return load_published(path, prm_format, device, dtype, batch_size, kw.get("max_tokens"))
    if path == "rule" or path.startswith("rule:"):
        return RulePRM(path.split(":", 1)[1] if ":" in path else "arithmetic")
    cfg = read_config(path, ALL_KINDS) if cfg is None else check_kind(cfg, ALL_KINDS, path)
    if cfg["kind"] == "rule":
        try:
            return RulePRM(cfg.get("world", "arithmetic"))
        except ValueError as e:
            raise InputError(str(e), str(Path(path) / "config.json")) from None
    if cfg["kind"] == "surprise":  # a base PRM and a policy's surprise (`prmkit.prm.surprise`)
        from prmkit.prm import surprise

        args = (None, device, dtype, batch_size, quantize)
        return surprise.load(
            path, cfg, lambda base: load_prm(base, *args, workers=workers, **kw), device
        )
    if batch_size is not None:
        kw["max_batch"] = batch_size
    if cfg["kind"] == IMPLICIT_KIND:
        if render_of(cfg, str(folder / "config.json")) != "none":  # it reads the policy's text
            raise InputError("an implicit PRM takes no render", str(folder / "config.json"))
        return ModelScorer(place(ImplicitPRM.load(path, cfg), device, dtype), **kw)
    if cfg.get("backend") == "encoder":  # windows of whole steps: its own scorer
        from prmkit.prm.encoder import EncoderScorer
        from prmkit.prm.encoder_quant import quantize_encoder

        model = place(load_step_model(path, cfg), device, dtype)
        try:
            model = quantize_encoder(model, quantize)
        except ValueError as e:
            raise InputError(str(e), path) from None
        try:
            return EncoderScorer(model, workers=workers, **kw)
        except ValueError as e:
            raise InputError(str(e), path) from None
    return ModelScorer(place(load_step_model(path, cfg), device, dtype), **kw)
