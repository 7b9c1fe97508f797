"""The demo's sampling stage: the policy's solutions to held-out problems, graded exactly."""

from __future__ import annotations

from prmkit.commands import sample as sample_cmd
from prmkit.data import Sample, read_jsonl
from prmkit.demo.context import Context, StageReport
from prmkit.report import bar_plot


def stage_sample(ctx: Context) -> StageReport:
    n = 4 if ctx.quick else 8
    cfg = sample_cmd.Config(
        policy=ctx.artifacts["policy"],
        problems=ctx.artifacts["test_problems"],
        out=ctx.path("samples.jsonl"),
        n=n,
        seed=ctx.seed,
        progress=ctx.progress,
    )
    s = sample_cmd.run(cfg)
    ctx.artifacts["samples"] = cfg.out
    samples = read_jsonl(cfg.out, Sample.from_dict)
    fe = [x.first_error for x in samples if x.first_error is not None and x.first_error >= 0]
    counts: dict[str, int] = {}
    for i in sorted(set(fe)):
        counts[f"step {i + 1}"] = fe.count(i)
    bar_plot(
        counts,
        ctx.path("first_error_positions.png"),
        "First wrong step in the policy's wrong solutions",
        "wrong solutions",
    )
    reasons: dict[str, int] = {}
    for x in samples:
        if x.meta.get("reason"):
            key = x.meta["reason"].split(":")[0].split(" ")[0]
            reasons[key] = reasons.get(key, 0) + 1
    noop = sum(st == "noop" for x in samples for st in x.meta.get("status", []))
    md = (
        f"{s['samples']} samples ({n} per problem) in {s['seconds']} s, {s['tokens']} tokens. "
        f"Accuracy {s['accuracy']:.1%}, so {1 - s['accuracy']:.1%} are wrong; no-op steps: {noop}.\n\n"
        "| first error kind | solutions |\n|---|---|\n"
        + "".join(f"| {k} | {v} |\n" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        + "\n![first-error positions](first_error_positions.png)\n"
    )
    summ = {
        "samples": s["samples"],
        "accuracy": s["accuracy"],
        "wrong_fraction": round(1 - s["accuracy"], 4),
        "first_error_counts": counts,
        "noop_steps": noop,
    }
    return StageReport("Samples and exact step labels", md, summ)
