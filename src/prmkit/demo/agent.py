"""`prmkit demo --agent`: the agent pipeline on the built-in tool-use world (toolqa).

questions -> a built-in agent trained by SFT (held-out success) -> episodes, labeled per
turn (the exact first wrong turn, and Monte Carlo rollouts) -> a turn-level PRM (F1 on
the first wrong turn of held-out episodes, ProcessBench's metric) -> search over turns
(best-of-N against beam with the PRM: success and generated tokens) -> report.md with
tables, plots and the stage timings. Each stage calls the commands' `run`, as the
default demo's stages do.
"""

from __future__ import annotations

from pathlib import Path

from prmkit.commands import agent_train as agent_cmd
from prmkit.commands import sample as sample_cmd
from prmkit.commands import world as world_cmd
from prmkit.demo.agent_prm import stage_agent_labels, stage_agent_prm
from prmkit.demo.agent_search import stage_agent_search
from prmkit.demo.agent_sizes import sizes
from prmkit.demo.context import Context, StageReport
from prmkit.demo.runner import run_stages


def stage_agent_world(ctx: Context) -> StageReport:
    """Training and held-out toolqa questions (different knowledge-base seeds)."""
    z = sizes(ctx)
    hops = {"min_hops": z.min_hops, "max_hops": z.max_hops}
    for name, n, seed in (
        ("train", z.train_questions, ctx.seed),
        ("test", z.test_questions, ctx.seed + 10_000),
    ):
        out = ctx.path(f"questions_{name}.jsonl")
        world_cmd.run(world_cmd.Config(out=out, world="toolqa", n=n, seed=seed, **hops))
        ctx.artifacts[f"{name}_questions"] = out
    hop = f"{z.min_hops} hop" if z.min_hops == z.max_hops else f"{z.min_hops} to {z.max_hops} hops"
    md = (
        f"{z.train_questions} training and {z.test_questions} held-out questions of the tool-use "
        f"world (docs/world-toolqa.md), {hop} (`get` calls): {z.min_hops + 2} to "
        f"{z.max_hops + 3} tool calls with search, get, calc and answer.\n"
    )
    return StageReport(
        "World: tool-use questions", md, {"train": z.train_questions, "test": z.test_questions}
    )


def stage_agent_train(ctx: Context) -> StageReport:
    """SFT of the built-in agent, then one batch of episodes on the held-out questions."""
    z = sizes(ctx)
    cfg = agent_cmd.Config(
        problems=ctx.artifacts["train_questions"],
        out=ctx.path("agent"),
        steps=z.sft_steps,
        lr=z.sft_lr,
        d_model=z.d_model,
        n_layer=z.n_layer,
        block_size=z.block_size,
        max_turns=z.max_turns,
        eval_problems=0,
        seed=ctx.seed,
        progress=ctx.progress,
    )
    t = agent_cmd.run(cfg)
    ctx.artifacts["agent"] = cfg.out
    s = sample_cmd.run(
        sample_cmd.Config(
            policy=cfg.out,
            problems=ctx.artifacts["test_questions"],
            out=ctx.path("held_out_episodes.jsonl"),
            n=z.held_out_n,
            seed=ctx.seed,
            max_new_tokens=z.max_new_tokens,
            world="toolqa",
            progress=ctx.progress,
        )
    )
    ctx.artifacts["held_out"] = s["out"]
    md = (
        f"Built-in GPT agent, {t['n_params']:,} parameters ({z.d_model} wide, {z.n_layer} blocks), "
        f"{z.sft_steps} SFT steps of {cfg.batch_size} expert trajectories with "
        f"{cfg.mistake_rate:.0%} controlled mistakes, loss on the actions "
        f"{t['loss_first']:.3f} -> {t['loss_last']:.3f} in {t['seconds']} s. "
        f"Held-out success: **{s['accuracy']:.1%}** of {s['samples']} episodes "
        f"({z.held_out_n} per question, at most {z.max_turns} turns and {z.max_new_tokens} agent tokens; "
        f"{s['tokens']} agent tokens in {s['seconds']} s).\n"
    )
    if s["accuracy"] == 0:
        md += (
            "\nThe agent solves none of the held-out questions: it has not learned to copy "
            "names and ids yet. The later stages run, but with no successful episode the PRM's "
            "F1 is undefined and search has nothing to find.\n"
        )
    summ = {k: t[k] for k in ("n_params", "loss_first", "loss_last")}
    summ |= {"held_out_success": s["accuracy"], "held_out_episodes": s["samples"]}
    return StageReport("Agent SFT", md, summ)


STAGES = [
    stage_agent_world,
    stage_agent_train,
    stage_agent_labels,
    stage_agent_prm,
    stage_agent_search,
]


def run_agent(out: str, quick: bool = False, seed: int = 0, progress: bool = True) -> dict:
    """The agent track's stages in order; report.md and summary.json in `out`; returns
    its headline figures."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    reports, total = run_stages(
        Context(root, quick, seed, progress),
        STAGES,
        "prmkit demo --agent",
        head={"agent": True},
        cpu=True,
    )
    by = {r.title: r.summary for r in reports}
    summary = {"agent": True, "out": str(root), "report": str(root / "report.md"), "quick": quick}
    summary["held_out_success"] = by["Agent SFT"]["held_out_success"]
    summary |= headline(by)
    return summary | {"seconds": total}


def headline(by: dict) -> dict:
    """The figures the summary line carries from the PRM and search stages."""
    prm = by["Turn-level PRM"]
    search = by["Search over turns"]
    out = {f"prm_f1_{k}": v["f1"] for k, v in prm["prms"].items()}
    out[f"bon{search['bon_n']}_success"] = search["bon"]["success"]
    best = max(search["beams"], key=lambda b: b["success"])
    out["beam_success"] = best["success"]
    out["beam_token_share"] = best["token_share"]
    return out
