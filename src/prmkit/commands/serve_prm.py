"""Serve a PRM over HTTP: /score, OpenRLHF /get_reward, /health, with dynamic batching."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from prmkit.data import InputError
from prmkit.worlds import WORLDS


@dataclass
class Config:
    model: str
    """the PRM: a trained PRM directory, or `rule` for the world's exact verifier"""
    host: str = "127.0.0.1"
    """address to listen on (keep loopback unless a token is set)"""
    port: int = 8000
    """port to listen on (0 picks a free one; the address is printed on stderr)"""
    token: str | None = None
    """bearer token clients must send; default: $PRMKIT_API_KEY, else no token needed"""
    max_batch_size: int = 64
    """most items scored in one PRM call"""
    max_wait_ms: float = 5.0
    """longest wait after an item arrives for more items to fill its batch"""
    aggregator: Literal["min", "prod", "mean", "last"] = "min"
    """how step scores become one reward (the `reward` field and /get_reward)"""
    empty_reward: float = 0.0
    """/get_reward's reward for a response with no steps"""
    max_body_bytes: int = 1_000_000
    """largest request body; larger ones get 413"""
    max_items: int = 256
    """most items (batch form) or queries (/get_reward) per request"""
    max_steps: int = 64
    """most steps per item"""
    max_chars: int = 16384
    """most characters per item"""
    world: str = "arithmetic"
    """world of the rule PRM"""
    access_log: bool = False
    """log every request on stderr"""
    threads: int = 0
    """torch intra-op threads (0: torch's default); on a small shared machine 1 is often fastest"""

    def check(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError("--max-batch-size must be at least 1")
        if self.max_wait_ms < 0:
            raise ValueError("--max-wait-ms must be at least 0")
        if not 0 <= self.port < 65536:
            raise ValueError("--port must lie in [0, 65535]")
        if min(self.max_body_bytes, self.max_items, self.max_steps, self.max_chars) < 1:
            raise ValueError("limits must be at least 1")
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {sorted(WORLDS)}")


def run(cfg: Config) -> dict:
    from prmkit.serve.http import resolve_token, serve_app
    from prmkit.serve.prm_server import Limits, create_app, load_scorer

    scorer = load_scorer(cfg.model, cfg.world)
    app = create_app(
        scorer,
        max_batch_size=cfg.max_batch_size,
        max_wait_ms=cfg.max_wait_ms,
        token=resolve_token(cfg.token),
        max_body_bytes=cfg.max_body_bytes,
        limits=Limits(cfg.max_items, cfg.max_steps, cfg.max_chars),
        aggregator=cfg.aggregator,
        empty_reward=cfg.empty_reward,
    )
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    t0 = time.time()
    try:
        url = serve_app(app, cfg.host, cfg.port, f"PRM {cfg.model!r}", cfg.access_log)
    except ValueError as e:
        raise InputError(str(e)) from None
    return {
        "command": "serve prm",
        "url": url,
        "seconds": round(time.time() - t0, 1),
        **app.state.counts,
        **app.state.batcher.stats(),
    }
