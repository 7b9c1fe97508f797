"""Serve a policy over an OpenAI-compatible API: /v1/completions, /v1/chat/completions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from prmkit.data import InputError
from prmkit.serve.http import ServeOptions


@dataclass
class Config(ServeOptions):
    RANGES: ClassVar[dict[str, str]] = {
        "max_prompts": ">= 1",
        "max_n": ">= 1",
        "max_tokens": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    model: str
    """the policy: a prmkit policy checkpoint or a local Hugging Face model folder"""
    served_model_name: str | None = None
    """model name in /v1/models and answers (default: the directory's name)"""
    max_prompts: int = 256
    """most prompts in one /v1/completions request"""
    max_n: int = 64
    """largest n (samples per prompt)"""
    max_tokens: int = 1024
    """largest max_tokens a request may ask for"""


def run(cfg: Config) -> dict:
    from prmkit.models.load import load_generator
    from prmkit.serve.http import resolve_token, run_command_server
    from prmkit.serve.policy_server import create_app

    if cfg.model.startswith(("http://", "https://")):
        raise InputError("serve a local policy, not a server address", cfg.model)
    gen = load_generator(cfg.model)
    name = cfg.served_model_name or Path(cfg.model).resolve().name
    app = create_app(
        gen,
        name,
        token=resolve_token(cfg.token),
        max_body_bytes=cfg.max_body_bytes,
        max_prompts=cfg.max_prompts,
        max_n=cfg.max_n,
        max_tokens=cfg.max_tokens,
    )
    url, seconds = run_command_server(
        app, cfg.host, cfg.port, f"policy {name!r}", cfg.access_log, cfg.threads
    )
    return {
        "command": "serve policy",
        "url": url,
        "model": name,
        "seconds": seconds,
        **app.state.counts,
    }
