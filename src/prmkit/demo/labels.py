"""The demo's labeling stage: mc vs omega on the demo's own samples, against the verifier."""

from __future__ import annotations

from prmkit.data import Sample, read_jsonl, write_jsonl
from prmkit.demo.context import Context, StageReport
from prmkit.label.quality import aggregate, goal, label_and_score, markdown_table


def stage_label(ctx: Context) -> StageReport:
    """Label a slice of the demo's samples with mc and omega; table of quality and cost."""
    n, ks = (80, [4]) if ctx.quick else (160, [4, 8])
    every = read_jsonl(ctx.artifacts["samples"], Sample.from_dict)
    samples = every[:: max(1, len(every) // n)][:n]  # spread over the problems
    part = ctx.path("label_input.jsonl")
    write_jsonl(part, samples)
    runs = []
    for k in ks:
        for method in ("mc", "omega"):
            out = ctx.path(f"labels_{method}_k{k}.jsonl")
            runs.append(
                label_and_score(
                    part, out, method, ctx.artifacts["policy"], k, ctx.seed, progress=ctx.progress
                )
            )
            ctx.artifacts[f"labels_{method}"] = out
    rows = aggregate(runs)
    g = goal(rows)
    wrong = sum(s.first_error is not None and s.first_error >= 0 for s in samples)
    verdicts = "; ".join(
        f"k={k}: omega used {v['rollout_ratio']:.0%} of mc's rollouts for a first-error accuracy of {v['acc_omega']:.3f} against mc's {v['acc_mc']:.3f}"
        for k, v in g.items()
    )
    md = (
        f"Step labels for {len(samples)} of the policy's solutions ({wrong} wrong) without the verifier: "
        "Monte Carlo rollouts from every step prefix (mc, Math-Shepherd) and OmegaPRM's binary search for "
        "the first step from which no rollout reaches the answer (omega). Scored against the exact verifier; "
        f"one seed, so expect a few points of noise. {verdicts} (target: mc's accuracy with at most 50% of its rollouts).\n\n"
        + markdown_table(rows)
        + "\nFull benchmark (500 solutions, k up to 16, 3 seeds): `python benchmarks/label_bench.py`.\n"
    )
    summ = {"solutions": len(samples), "rows": rows, "goal": g}
    return StageReport("Automatic step labels", md, summ)
