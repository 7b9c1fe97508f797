"""The demo's world stage: training and held-out arithmetic problems."""

from __future__ import annotations

from prmkit.commands import world as world_cmd
from prmkit.demo.context import Context, StageReport


def stage_world(ctx: Context) -> StageReport:
    # --quick trades the world for one a small policy learns in about a minute:
    # + and - only, at most 3 operations. The full demo uses the default world.
    n_train, n_test = (1000, 100) if ctx.quick else (2000, 200)
    knobs = {"operators": "+-", "max_ops": 3} if ctx.quick else {}
    for name, n, seed in (("train", n_train, ctx.seed), ("test", n_test, ctx.seed + 10_000)):
        out = ctx.path(f"problems_{name}.jsonl")
        world_cmd.run(world_cmd.Config(out=out, n=n, seed=seed, **knobs))
        ctx.artifacts[f"{name}_problems"] = out
    ops = "+ and -, 2 to 3 operations" if ctx.quick else "+, - and *, 2 to 4 operations"
    md = f"{n_train} training and {n_test} held-out problems: {ops}, values up to 20.\n"
    return StageReport("World", md, {"train_problems": n_train, "test_problems": n_test})
