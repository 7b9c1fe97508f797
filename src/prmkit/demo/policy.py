"""The demo's policy stage: SFT of the built-in GPT on solutions with controlled mistakes."""

from __future__ import annotations

from prmkit.commands import policy as policy_cmd
from prmkit.demo.context import Context, StageReport


def stage_policy(ctx: Context) -> StageReport:
    steps, batch = (400, 32) if ctx.quick else (600, 64)
    cfg = policy_cmd.Config(
        problems=ctx.artifacts["train_problems"],
        out=ctx.path("policy"),
        steps=steps,
        batch_size=batch,
        seed=ctx.seed,
        progress=ctx.progress,
        eval_problems=0,
    )
    s = policy_cmd.run(cfg)
    ctx.artifacts["policy"] = ctx.path("policy")
    md = (
        f"Built-in GPT, {s['n_params']:,} parameters, {steps} SFT steps of {batch} on solutions with "
        f"20% controlled mistakes: loss {s['loss_first']:.3f} -> {s['loss_last']:.3f} in {s['seconds']} s.\n"
    )
    return StageReport(
        "Policy", md, {k: s[k] for k in ("n_params", "loss_first", "loss_last", "seconds")}
    )
