"""The demo: the whole pipeline on the built-in arithmetic world, written up as a report.

world -> policy -> samples -> automatic step labels -> a trained PRM -> search -> RL.
Each stage is a module with one function `stage_*(ctx) -> StageReport`; `run_demo`
runs them in order and writes report.md, the PNG plots and summary.json. Only the
`prmkit demo` command imports this package; the library never does.
"""

from __future__ import annotations

from pathlib import Path

from prmkit.demo.context import Context, StageReport
from prmkit.demo.labels import stage_label
from prmkit.demo.policy import stage_policy
from prmkit.demo.prm import stage_prm
from prmkit.demo.rl import stage_rl
from prmkit.demo.runner import run_stages
from prmkit.demo.samples import stage_sample
from prmkit.demo.search import stage_search
from prmkit.demo.world import stage_world

STAGES = [stage_world, stage_policy, stage_sample, stage_label, stage_prm, stage_search, stage_rl]


def run_demo(out: str, quick: bool = False, seed: int = 0, progress: bool = True) -> dict:
    """Every stage in order; writes report.md and summary.json in `out`, returns where."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _, total = run_stages(Context(root, quick, seed, progress), STAGES)
    return {"out": str(root), "report": str(root / "report.md"), "seconds": total}


__all__ = ["STAGES", "Context", "StageReport", "run_demo"]
