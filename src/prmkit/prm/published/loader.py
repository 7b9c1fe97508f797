"""Open a published PRM's folder as it is: detect its format, load backbone and head.

No remote code runs (`trust_remote_code` stays off): the Qwen2.5-Math-PRM and
Skywork heads are built here and filled from the folder's own weight files. A head
whose weights are not in the folder is an InputError, never a random head.
"""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import Any

import torch

from prmkit.data import InputError
from prmkit.prm.published.recipes import RECIPES
from prmkit.prm.published.scorer import PublishedScorer, cls_head, lm_head, value_head
from prmkit.prm.scorer import HUB_ID, PRMFormat

FORMATS = typing.get_args(PRMFormat)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"invalid JSON: {e}", str(path)) from None


def weight_names(folder: Path) -> set[str]:
    """Every tensor name in the folder's weight files (safetensors or PyTorch .bin)."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).exists():
            return set(_json(folder / index).get("weight_map", {}))
    if (folder / "model.safetensors").exists():
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            return set(f.keys())
    if (folder / "pytorch_model.bin").exists():
        return set(_load_bin(folder / "pytorch_model.bin"))
    return set()


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def read_tensors(folder: Path, names: list[str], fmt: str) -> dict[str, torch.Tensor]:
    """The named tensors from the folder's weight files, or an InputError naming the gap."""
    files: dict[str, str] = {}
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).exists():
            files = _json(folder / index).get("weight_map", {})
            break
    else:
        for single in ("model.safetensors", "pytorch_model.bin"):
            if (folder / single).exists():
                files = dict.fromkeys(weight_names(folder), single)
                break
    missing = [n for n in names if n not in files]
    if missing:
        raise InputError(
            f"the {fmt} head's weights ({', '.join(missing)}) are not in the folder's weight "
            "files; refusing to score with a randomly initialised head",
            str(folder),
        )
    out = {}
    for name in names:
        f = folder / files[name]
        if f.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(f), "pt") as st:
                out[name] = st.get_tensor(name)
        else:
            out[name] = _load_bin(f)[name]
    return out


def _chat_template(folder: Path) -> bool:
    return bool(_json(folder / "tokenizer_config.json").get("chat_template")) or any(
        (folder / n).exists() for n in ("chat_template.jinja", "chat_template.json")
    )


def detect_format(folder: str | Path) -> str:
    """The format of a model folder, from config.json's architectures, the head's
    weights and the tokenizer (see docs/prm-published.md); InputError if unsure."""
    d = Path(folder)
    cfg = _json(d / "config.json")
    if not cfg:
        raise InputError("not a model folder: config.json is missing", str(d))
    if "kind" in cfg:
        return "prmkit"
    archs = cfg.get("architectures") or []
    if "Qwen2ForProcessRewardModel" in archs:
        return "qwen-prm"
    if "Qwen2ForPrmModel" in archs or "v_head.summary.weight" in weight_names(d):
        return "skywork"
    if any(a.endswith("ForTokenClassification") for a in archs):
        return "trl"
    if any(a.endswith("ForCausalLM") for a in archs):
        if _chat_template(d):
            return "rlhflow"
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
        if "ки" in tok.get_vocab() or "▁ки" in tok.get_vocab():
            return "math-shepherd"
    raise InputError(
        f"cannot tell this model's PRM format (architectures {archs}); name it with "
        f"--prm-format ({'|'.join(FORMATS)})",
        str(d),
    )


def resolve(spec: str) -> Path:
    """A local folder for `--prm`: the folder itself, or a hub id downloaded when online."""
    if Path(spec).exists():
        return Path(spec)
    if not HUB_ID.match(spec):
        raise InputError("no such PRM directory", spec)
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    how = (
        f"download it on a machine with network (`hf download {spec} --local-dir DIR`) "
        "and pass --prm DIR"
    )
    if offline:
        raise InputError(f"not a local folder, and this machine is offline: {how}", spec)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec))
    except Exception as e:  # no network, no such repo, gated repo: all the same to the user
        raise InputError(
            f"not a local folder, and the hub download failed ({type(e).__name__}): {how}", spec
        ) from None


def _device_dtype(device: str | None, dtype: str | None) -> tuple[torch.device, torch.dtype]:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype in (None, "auto"):
        return dev, torch.bfloat16 if dev.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise InputError(f"--dtype must be auto or one of {sorted(_DTYPES)}, got {dtype!r}")
    return dev, _DTYPES[dtype]


def _from_pretrained(auto_cls, folder: Path, fmt: str, dtype: torch.dtype) -> Any:
    from transformers.utils import logging as hf_logging

    # The head's tensors are read by `read_tensors`; transformers' report of them as
    # unexpected keys would only confuse, and missing keys are an error below.
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = auto_cls.from_pretrained(
            str(folder),
            dtype=dtype,
            local_files_only=True,
            trust_remote_code=False,
            output_loading_info=True,
        )
    finally:
        hf_logging.set_verbosity(before)
    if info.get("missing_keys"):
        missing = sorted(info["missing_keys"])
        raise InputError(
            f"{len(missing)} weights of the {fmt} model are not in the folder "
            f"({', '.join(missing[:3])}); refusing to score with randomly initialised weights",
            str(folder),
        )
    return model.eval()


def _hidden(base: torch.nn.Module):
    def run(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return base(input_ids=ids, attention_mask=mask).last_hidden_state

    return run


def _linear_from(tensors: dict[str, torch.Tensor], prefix: str) -> torch.nn.Linear:
    w = tensors[prefix + "weight"]
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=prefix + "bias" in tensors)
    lin.load_state_dict(
        {k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
    )
    return lin


QWEN_HEAD = ["score.0.weight", "score.0.bias", "score.2.weight", "score.2.bias"]
"""Qwen2ForProcessRewardModel's head: Linear(d, d), ReLU, Linear(d, 2) (modeling_qwen2_rm.py)."""
SKYWORK_HEAD = ["v_head.summary.weight", "v_head.summary.bias"]
"""Skywork-o1-Open-PRM's value head: Linear(d, 1) (skywork-o1-prm-inference, ValueHead)."""


def _model_and_head(fmt: str, recipe, folder: Path, dtype: torch.dtype):
    """(model, backbone, head) of one format, its head's weights checked first."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForTokenClassification

    if recipe.head == "lm":
        model = _from_pretrained(AutoModelForCausalLM, folder, fmt, dtype)
        out = model.get_output_embeddings()
        head = lm_head(out.weight, getattr(out, "bias", None), *recipe.candidates)
        return model, _hidden(model.base_model), head
    if fmt == "trl":
        model = _from_pretrained(AutoModelForTokenClassification, folder, fmt, dtype)
        if model.config.num_labels != 2:
            raise InputError(
                f"a TRL PRM has 2 labels; this model has {model.config.num_labels}", str(folder)
            )
        cls = getattr(model, "score", None) or getattr(model, "classifier", None)
        return model, _hidden(model.base_model), cls_head(cls)
    if fmt == "qwen-prm":
        t = read_tensors(folder, QWEN_HEAD, fmt)
        mlp = torch.nn.Sequential(
            _linear_from(t, "score.0."), torch.nn.ReLU(), _linear_from(t, "score.2.")
        )
        head = cls_head(mlp)
    else:
        head = value_head(_linear_from(read_tensors(folder, SKYWORK_HEAD, fmt), "v_head.summary."))
    model = _from_pretrained(AutoModel, folder, fmt, dtype)
    return model, _hidden(model), head


def _context(model, tok) -> int | None:
    limits = [getattr(model.config, "max_position_embeddings", None)]
    limits.append(getattr(tok, "model_max_length", None))
    limits = [n for n in limits if isinstance(n, int) and 0 < n < 10**8]
    return min(limits) if limits else None


def load_published(
    spec: str,
    fmt: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    max_tokens: int | None = None,
) -> PublishedScorer:
    """A published PRM (`fmt`, or detected from the folder) as a StepScorer.

    device: default cuda when there is one, else cpu; dtype: auto (bfloat16 on
    cuda, float32 on cpu), float32, bfloat16 or float16; batch_size: most
    solutions per pass (16); max_tokens: about the most padded tokens per pass (16384).
    """
    folder = resolve(spec)
    fmt = fmt or detect_format(folder)
    if fmt not in RECIPES:
        raise InputError(f"--prm-format must be one of {'|'.join(FORMATS)}, got {fmt!r}")
    dev, dt = _device_dtype(device, dtype)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    recipe = RECIPES[fmt](tok)
    model, backbone, head = _model_and_head(fmt, recipe, folder, dt)
    model.to(dev)
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    ctx = _context(model, tok)
    tok.model_max_length = 10**30  # the scorer checks the context itself, naming the record
    return PublishedScorer(
        recipe, backbone, head, pad, dev, ctx, batch_size or 16, max_tokens or 16384
    )


def is_published(spec: str, fmt: str | None = None, config: dict | None = None) -> bool:
    """Whether `--prm spec` (with `--prm-format fmt`) names a published PRM rather than
    a prmkit checkpoint or rule: a format other than prmkit, a model folder whose
    config.json has no prmkit `kind`, or a hub id that is not a local path."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"--prm-format must be one of {'|'.join(FORMATS)}, got {fmt!r}")
        return fmt != "prmkit"
    p = Path(spec)
    if p.is_dir():
        if config is None:
            config = _json(p / "config.json")
        return (p / "config.json").exists() and "kind" not in config
    return not p.exists() and bool(HUB_ID.match(spec))


def place(model: torch.nn.Module, device: str | None, dtype: str | None) -> torch.nn.Module:
    """A prmkit model moved to `device` in `dtype` (both optional)."""
    if device is None and dtype in (None, "auto"):
        return model
    dev, dt = _device_dtype(device, dtype)
    return model.to(dev, dt)
