"""Each labeling method's own options, typed: what the method reads, and what `prmkit
label`'s method-prefixed flags fill (each options dataclass is a `prmkit.config.group`
of the label Config: --omega-*, --consensus-*, --judge-*; the docstrings are the help)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


@dataclass
class OmegaOptions:
    after: Literal["negative", "truncate"] = "negative"
    """steps after the first error are labeled wrong (negative) or dropped from the sample (truncate)"""
    early_stop: bool = True
    """draw a probe's k rollouts in waves and stop at the first success (same labels, fewer rollouts)"""


@dataclass
class ConsensusOptions:
    mode: Literal["step", "first_error"] = "step"
    """keep the agreeing prefix of steps (step), or whole samples whose first errors agree (first_error)"""


@dataclass
class JudgeOptions:
    RANGES: ClassVar[dict[str, str]] = {
        "temperature": ">= 0",
        "max_tokens": ">= 1",
        "timeout": "> 0",
        "retries": ">= 0",
        "concurrency": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    url: str = ""
    """base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1"""
    model: str = "judge"
    """model name sent to the endpoint"""
    api: Literal["chat", "completions"] = "chat"
    """POST to /chat/completions or to /completions"""
    template: str = ""
    """`processbench` (the paper's critic prompt), or a prompt template file with {problem}, {steps} or {tagged_steps}, {n_steps} (default: a ProcessBench-style prompt over numbered steps)"""
    temperature: float = 0.7
    """sampling temperature of the judge's answers"""
    max_tokens: int = 512
    """most tokens per answer"""
    api_key_env: str = "OPENAI_API_KEY"
    """environment variable holding the API key (sent as a Bearer token if set)"""
    timeout: float = 60.0
    """seconds per HTTP request"""
    retries: int = 3
    """retries of a failed request (429, 5xx, connection errors), with backoff"""
    concurrency: int = 4
    """requests in flight at once"""


MISTAKES = ("arithmetic", "copy", "operation", "skip", "early", "unit")
"""the mistakes `perturb` can inject into a reference (`prmkit.label.perturb`)"""


@dataclass
class PerturbOptions:
    RANGES: ClassVar[dict[str, str]] = {"correct": "[0, 1]"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    correct: float = 0.4
    """fraction of references kept correct (the rest get one mistake each)"""
    mistakes: tuple[str, ...] = MISTAKES
    """comma-separated mistake kinds to draw from (each tried in a random order)"""
