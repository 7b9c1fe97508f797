"""Each labeling method's own options, typed: what `prmkit label`'s method-prefixed flags
(--omega-*, --consensus-*, --judge-*) fill, and what the method reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class OmegaOptions:
    after: Literal["negative", "truncate"] = "negative"
    """steps after the first error are labeled wrong (negative) or dropped (truncate)"""
    early_stop: bool = True
    """draw a probe's k rollouts in waves and stop at the first success"""


@dataclass
class ConsensusOptions:
    mode: Literal["step", "first_error"] = "step"
    """keep the agreeing prefix of steps (step), or whole samples whose first errors agree"""


@dataclass
class JudgeOptions:
    url: str = ""
    """base URL of an OpenAI-compatible API"""
    model: str = "judge"
    """model name sent to the endpoint"""
    api: Literal["chat", "completions"] = "chat"
    """POST to /chat/completions or to /completions"""
    template: str = ""
    """prompt template file with {problem}, {steps}, {n_steps} ('' = the default prompt)"""
    temperature: float = 0.7
    """sampling temperature of the judge's answers"""
    max_tokens: int = 512
    """most tokens per answer"""
    api_key_env: str = "OPENAI_API_KEY"
    """environment variable holding the API key"""
    timeout: float = 60.0
    """seconds per HTTP request"""
    retries: int = 3
    """retries of a failed request"""
    concurrency: int = 4
    """requests in flight at once"""


@dataclass
class PerturbOptions:
    correct: float = 0.4
    """fraction of references kept correct (the rest get one mistake each)"""
    mistakes: tuple[str, ...] = ()
    """mistake kinds to draw from (each tried in a random order); () = every kind"""
