"""Serve a PRM over HTTP: /score, OpenRLHF /get_reward, /health, with dynamic batching."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar, Literal

from prmkit.prm.options import ModelPRMOptions
from prmkit.prm.scorer import PRMFormat
from prmkit.serve.http import ServeOptions
from prmkit.worlds import WORLDS


@dataclass(kw_only=True)
class Config(ServeOptions, ModelPRMOptions):
    RANGES: ClassVar[dict[str, str]] = {
        "max_batch_size": ">= 1",
        "max_wait_ms": ">= 0",
        "empty_reward": "any",
        "max_items": ">= 1",
        "max_steps": ">= 1",
        "max_chars": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    model: str
    """the PRM: a trained PRM directory, `rule` for the world's exact verifier, a published PRM's folder (see --prm-format), or PRM+rule[:WORLD] (the checker in front: each step scores the lower of the two)"""
    max_batch_size: int = 32
    """most items scored in one PRM call; about half the concurrent clients lets one batch
    score while the next one's requests are read (benchmarks/serve_load.py)"""
    max_wait_ms: float = 5.0
    """longest wait after an item arrives for more items to fill its batch"""
    aggregator: Literal["min", "prod", "mean", "last"] = "min"
    """how step scores become one reward (the `reward` field and /get_reward)"""
    empty_reward: float = 0.0
    """/get_reward's reward for a response with no steps"""
    max_items: int = 256
    """most items (batch form) or queries (/get_reward) per request"""
    max_steps: int = 64
    """most steps per item"""
    max_chars: int = 16384
    """most characters per item"""
    world: str = "arithmetic"
    """world of the rule PRM"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --model: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    batch_size: int | None = None
    """most items per forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""
    tokenizer: str = ""
    """the policy's tokenizer folder: /get_reward removes its special tokens (padding,
    end-of-sequence, chat markers) from OpenRLHF's queries and takes the problem from
    chat-templated prompts; default: the PRM folder's tokenizer, if it has one"""
    scorer_process: bool = True
    """score in a child process, so that HTTP handling and scoring run on separate cores
    (in one process Python's GIL serializes them); --no-scorer-process scores on a thread"""

    def check(self) -> None:
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {sorted(WORLDS)}")


def query_cleaner(tokenizer: str, model: str):
    """The TextCleaner of the --tokenizer folder, else of the PRM folder's tokenizer;
    None when neither names one."""
    from prmkit.data import InputError
    from prmkit.models.chat_text import TextCleaner, load_text_tokenizer
    from prmkit.prm.rule import split_checker

    if tokenizer:
        if not Path(tokenizer).is_dir():
            raise InputError("no such tokenizer folder", tokenizer)
        tok = load_text_tokenizer(tokenizer)
        if tok is None:
            raise InputError(
                "the folder holds no tokenizer (tokenizer.json or tokenizer_config.json)",
                tokenizer,
            )
    else:
        base = split_checker(model)[0]  # PRM+rule: the PRM's folder
        tok = load_text_tokenizer(base) if Path(base).is_dir() else None
    return None if tok is None else TextCleaner.from_tokenizer(tok)


def run(cfg: Config) -> dict:
    from prmkit.prm.base import load_scorer
    from prmkit.serve.http import resolve_token, run_command_server
    from prmkit.serve.prm_server import Limits, create_app

    cleaner = query_cleaner(cfg.tokenizer, cfg.model)  # a bad folder fails before the PRM loads
    opts = cfg.model_args()
    load = partial(load_scorer, workers=cfg.workers)  # picklable: the child process builds it
    if cfg.scorer_process:
        from prmkit.serve.scorer_process import ScorerProcess

        # a child that forks scoring workers cannot be daemonic
        scorer = ScorerProcess(
            load, cfg.model, cfg.world, *opts, threads=cfg.threads, daemon=cfg.workers == 1
        )
    else:
        scorer = load(cfg.model, cfg.world, *opts)
    app = create_app(
        scorer,
        cleaner=cleaner,
        max_batch_size=cfg.max_batch_size,
        max_wait_ms=cfg.max_wait_ms,
        token=resolve_token(cfg.token),
        max_body_bytes=cfg.max_body_bytes,
        limits=Limits(cfg.max_items, cfg.max_steps, cfg.max_chars),
        aggregator=cfg.aggregator,
        empty_reward=cfg.empty_reward,
    )
    url, seconds = run_command_server(
        app, cfg.host, cfg.port, f"PRM {cfg.model!r}", cfg.access_log, cfg.threads
    )
    return {
        "command": "serve prm",
        "url": url,
        "seconds": seconds,
        **app.state.counts,
        **app.state.batcher.stats(),
    }
