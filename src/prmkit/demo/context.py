"""What the demo's stages share (`Context`) and what each returns (`StageReport`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Context:
    """What the stages share: settings, paths, and artifacts that earlier stages made."""

    out: Path
    quick: bool
    seed: int
    progress: bool
    artifacts: dict = field(default_factory=dict)

    def path(self, name: str) -> str:
        return str(self.out / name)


@dataclass
class StageReport:
    """One stage's section of the report: its title, markdown, figures for summary.json,
    and the wall and CPU seconds it took (set by `runner.run_stages`)."""

    title: str
    markdown: str
    summary: dict
    seconds: float = 0.0
    cpu_seconds: float = 0.0
