"""Serve a policy over an OpenAI-compatible API: /v1/completions, /v1/chat/completions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from prmkit.data import InputError


@dataclass
class Config:
    model: str
    """the policy: a prmkit policy checkpoint or a local Hugging Face model folder"""
    host: str = "127.0.0.1"
    """address to listen on (keep loopback unless a token is set)"""
    port: int = 8000
    """port to listen on (0 picks a free one; the address is printed on stderr)"""
    token: str | None = None
    """bearer token clients must send; default: $PRMKIT_API_KEY, else no token needed"""
    served_model_name: str | None = None
    """model name in /v1/models and answers (default: the directory's name)"""
    max_body_bytes: int = 1_000_000
    """largest request body; larger ones get 413"""
    max_prompts: int = 256
    """most prompts in one /v1/completions request"""
    max_n: int = 64
    """largest n (samples per prompt)"""
    max_tokens: int = 1024
    """largest max_tokens a request may ask for"""
    access_log: bool = False
    """log every request on stderr"""
    threads: int = 0
    """torch intra-op threads (0: torch's default); on a small shared machine 1 is often fastest"""

    def check(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError("--port must lie in [0, 65535]")
        if min(self.max_body_bytes, self.max_prompts, self.max_n, self.max_tokens) < 1:
            raise ValueError("limits must be at least 1")


def run(cfg: Config) -> dict:
    from prmkit.models.load import load_generator
    from prmkit.serve.http import resolve_token, serve_app
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
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    t0 = time.time()
    try:
        url = serve_app(app, cfg.host, cfg.port, f"policy {name!r}", cfg.access_log)
    except ValueError as e:
        raise InputError(str(e)) from None
    return {
        "command": "serve policy",
        "url": url,
        "model": name,
        "seconds": round(time.time() - t0, 1),
        **app.state.counts,
    }
