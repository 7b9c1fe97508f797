"""The demo's sampling stage: the policy's solutions to held-out problems, graded exactly."""

from __future__ import annotations

from collections import Counter

from prmkit.commands import sample as sample_cmd
from prmkit.data import Sample, read_jsonl
from prmkit.demo.context import Context, StageReport
from prmkit.report import bar_plot
from prmkit.worlds.arithmetic import KINDS


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
    kinds = Counter(x.meta["error_kind"] for x in samples if x.meta.get("error_kind"))
    noop = sum(st == "noop" for x in samples for st in x.meta.get("status", []))
    wrong = sum(kinds.values())
    md = (
        f"{s['samples']} samples ({n} per problem) in {s['seconds']} s, {s['tokens']} tokens. "
        f"Accuracy {s['accuracy']:.1%}, so {1 - s['accuracy']:.1%} are wrong; no-op steps: {noop}.\n\n"
        "What the arithmetic world's verifier finds wrong at each wrong solution's first "
        f"wrong step ({wrong} solutions):\n\n"
        "| first error (verifier's category) | what it means | solutions |\n|---|---|---|\n"
        + "".join(f"| {k} | {KINDS[k]} | {v} |\n" for k, v in kinds.most_common())
        + "\n![first-error positions](first_error_positions.png)\n"
    )
    summ = {
        "samples": s["samples"],
        "accuracy": s["accuracy"],
        "wrong_fraction": round(1 - s["accuracy"], 4),
        "first_error_counts": counts,
        "noop_steps": noop,
        "first_error_kinds": dict(kinds.most_common()),
    }
    return StageReport("Samples and exact step labels", md, summ)
