"""What a PRM is to the rest of prmkit (`StepScorer`), and how `--prm` names one.

Search, RL and serving depend only on `StepScorer`; `prmkit.prm.base.load_scorer`
opens any PRM by name or folder.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol


class StepScorer(Protocol):
    kind: str

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """For each (problem prompt, steps): one score per step, the estimated
        probability that the step is correct (higher is better), in [0, 1]."""
        ...


PRMFormat = Literal["math-shepherd", "qwen-prm", "rlhflow", "skywork", "trl", "prmkit"]
"""What `--prm-format` takes: a published PRM's format (`prmkit.prm.published`) or prmkit's own."""

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
"""A Hugging Face hub id (owner/name): a published PRM fetched when the machine is online."""
