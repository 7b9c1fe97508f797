"""Open a policy by path: a built-in checkpoint, a Hugging Face model folder, or the
address of an OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

from prmkit.data import InputError
from prmkit.models.generator import Generator, LocalPolicy


def load_generator(path: str, **kwargs) -> Generator:
    """A Generator for `path`: prmkit policy checkpoint, a local HF causal-LM folder, or
    `http(s)://HOST:PORT[/v1][?model=NAME]`, an OpenAI-compatible server (kwargs go to
    `OpenAIGenerator`: concurrency, timeout, retries, api_key, ...)."""
    if path.startswith(("http://", "https://")):
        from prmkit.models.openai_backend import OpenAIGenerator

        return OpenAIGenerator(path, **kwargs)
    cfg_path = Path(path) / "config.json"
    if not cfg_path.exists():
        raise InputError(
            "not a policy: no config.json (expected a prmkit policy or a Hugging Face model folder)",
            path,
        )
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"invalid config.json: {e}", str(cfg_path)) from None
    if cfg.get("kind") == "policy" and cfg.get("world") == "toolqa":
        from prmkit.agents.builtin import builtin_agent
        from prmkit.models.builtin import BuiltinPolicy

        return builtin_agent(BuiltinPolicy.load(path, cfg), "toolqa", cfg.get("max_turns", 10))
    if cfg.get("kind") == "policy":
        from prmkit.models.builtin import BuiltinPolicy

        return BuiltinPolicy.load(path, cfg)
    if "model_type" in cfg:
        from prmkit.models.hf import HFPolicy

        return HFPolicy.load(path, **kwargs)
    kind = cfg.get("kind")
    raise InputError(f"checkpoint is of kind {kind!r}, expected a policy", str(cfg_path))


def load_local_policy(path: str) -> LocalPolicy:
    """A policy whose weights are here, as training needs: a prmkit policy checkpoint or
    a local Hugging Face causal-LM folder (not a server address)."""
    if path.startswith(("http://", "https://")):
        raise InputError(
            "this needs a local policy (prmkit checkpoint or Hugging Face folder), not a server",
            path,
        )
    return load_generator(path)
