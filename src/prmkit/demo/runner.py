"""Run a demo track's stages in order, time each, and write report.md and summary.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from prmkit.demo.context import Context, StageReport


def run_stages(
    ctx: Context,
    stages: list[Callable[[Context], StageReport]],
    title: str = "prmkit demo",
    head: dict | None = None,
    cpu: bool = False,
) -> tuple[list[StageReport], float]:
    """Every stage in order; writes ctx.out/report.md (a section per stage, its wall time
    under the title) and ctx.out/summary.json (`head`, then each stage's figures).
    With `cpu`, each stage's process CPU seconds too, and a table of the timings at the
    end of the report (on a shared machine, wall time overstates what a run costs).
    Returns the stage reports and the total wall seconds."""
    t0 = time.time()
    reports = []
    for stage in stages:
        ts, cs = time.time(), time.process_time()
        rep = stage(ctx)
        rep.seconds = round(time.time() - ts, 1)
        rep.cpu_seconds = round(time.process_time() - cs, 1)
        reports.append(rep)
    total = round(time.time() - t0, 1)
    lines = [
        f"# {title}{' (quick)' if ctx.quick else ''}\n",
        f"Seed {ctx.seed}, {total} s in all.\n",
    ]
    for r in reports:
        lines += [f"\n## {r.title}\n", f"_{r.seconds} s_\n\n", r.markdown]
    if cpu:
        lines.append(timing_table(reports, total))
    (ctx.out / "report.md").write_text("".join(lines))
    summary = {"command": "demo"} | (head or {})
    summary |= {"out": str(ctx.out), "quick": ctx.quick, "seconds": total}
    summary["stages"] = {
        r.title: r.summary
        | {"seconds": r.seconds}
        | ({"cpu_seconds": r.cpu_seconds} if cpu else {})
        for r in reports
    }
    (ctx.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return reports, total


def timing_table(reports: list[StageReport], total: float) -> str:
    """Markdown: each stage's wall and CPU seconds, and the total."""
    rows = "".join(f"| {r.title} | {r.seconds} | {r.cpu_seconds} |\n" for r in reports)
    cpu = round(sum(r.cpu_seconds for r in reports), 1)
    return (
        "\n## Stage timings\n\n| stage | wall s | CPU s (this process) |\n|---|---|---|\n"
        + rows
        + f"| all | {total} | {cpu} |\n"
    )
