"""Checkpoints: `model.safetensors` plus `config.json` naming the checkpoint's kind.

Every loader states the kind it expects, so a PRM folder passed as a policy (or the
reverse) fails with a clear message instead of a shape error.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from prmkit.data import InputError


def save_checkpoint(out_dir: str | Path, state: dict[str, torch.Tensor], config: dict) -> Path:
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    # Tied weights share storage; safetensors wants distinct tensors.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    save_file(tensors, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return d


def read_config(ckpt_dir: str | Path, expected_kinds: tuple[str, ...] | str) -> dict:
    """The checkpoint's config, or an InputError if it is missing or of another kind."""
    return check_kind(folder_config(ckpt_dir), expected_kinds, ckpt_dir)


def check_kind(cfg: dict, expected_kinds: tuple[str, ...] | str, ckpt_dir: str | Path) -> dict:
    """`cfg` itself if its kind is one of `expected_kinds`, else an InputError."""
    if isinstance(expected_kinds, str):
        expected_kinds = (expected_kinds,)
    kind = cfg.get("kind") if isinstance(cfg, dict) else None
    if kind not in expected_kinds:
        want = " or ".join(expected_kinds)
        raise InputError(
            f"checkpoint is of kind {kind!r}, expected {want}", str(Path(ckpt_dir) / "config.json")
        )
    return cfg


def folder_config(ckpt_dir: str | Path) -> dict:
    """A model folder's config.json, read once; an InputError if it is missing or invalid."""
    d = Path(ckpt_dir)
    cfg_path = d / "config.json"
    if not d.is_dir():
        raise InputError("no such checkpoint directory", str(d))
    if not cfg_path.exists():
        raise InputError("not a prmkit checkpoint: config.json is missing", str(d))
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"invalid config.json: {e}", str(cfg_path)) from None
    return cfg


def load_state(ckpt_dir: str | Path) -> dict[str, torch.Tensor]:
    p = Path(ckpt_dir) / "model.safetensors"
    if not p.exists():
        raise InputError("model.safetensors is missing", str(Path(ckpt_dir)))
    return load_file(str(p))
