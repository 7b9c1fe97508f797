"""Run the whole pipeline on the built-in arithmetic world and write a report.

world -> policy -> samples -> exact step labels -> report (report.md, PNG plots,
summary.json). Later stages (labeling, PRMs, search, RL) append themselves to STAGES.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from prmkit.commands import policy as policy_cmd
from prmkit.commands import sample as sample_cmd
from prmkit.commands import world as world_cmd
from prmkit.commands.demo_prm import stage_prm
from prmkit.commands.rl import stage_rl
from prmkit.data import Sample, read_jsonl
from prmkit.label.demo_stage import stage_label
from prmkit.report import bar_plot
from prmkit.search.stage import stage_search


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {"seed": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    out: str = "demo"
    """output directory: report.md, *.png, summary.json and every artifact"""
    quick: bool = False
    """a smaller, faster run (about a third of the time)"""
    seed: int = 0
    """random seed for every stage"""
    progress: bool = True
    """show progress bars"""
    real: bool = False
    """the real-text track instead: perturbation labels on GSM8K, an all-MiniLM-L6-v2 encoder PRM, ProcessBench gsm8k (docs/prm-realtext.md); needs --gsm8k and --processbench"""
    gsm8k: str = ""
    """--real: GSM8K train JSONL (question, answer with calculator annotations)"""
    processbench: str = ""
    """--real: ProcessBench's gsm8k.json"""
    init: str = "minilm"
    """--real: the encoder (minilm, or a local BERT-style folder)"""

    def check(self) -> None:
        if not self.real and (self.gsm8k or self.processbench or self.init != "minilm"):
            raise ValueError("--gsm8k, --processbench and --init belong to --real")


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
    title: str
    markdown: str
    summary: dict
    seconds: float = 0.0


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


STAGES = [stage_world, stage_policy, stage_sample, stage_label, stage_prm, stage_search, stage_rl]


def run(cfg: Config) -> dict:
    if cfg.real:
        from prmkit.commands.demo_real import run_real

        return run_real(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, cfg.quick, cfg.seed, cfg.progress)
    t0 = time.time()
    reports = []
    for stage in STAGES:
        ts = time.time()
        rep = stage(ctx)
        rep.seconds = round(time.time() - ts, 1)
        reports.append(rep)
    total = round(time.time() - t0, 1)
    lines = [
        f"# prmkit demo{' (quick)' if cfg.quick else ''}\n",
        f"Seed {cfg.seed}, {total} s in all.\n",
    ]
    for r in reports:
        lines += [f"\n## {r.title}\n", f"_{r.seconds} s_\n\n", r.markdown]
    (out / "report.md").write_text("".join(lines))
    summary = {"command": "demo", "out": str(out), "quick": cfg.quick, "seconds": total}
    summary["stages"] = {r.title: r.summary | {"seconds": r.seconds} for r in reports}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return {"command": "demo", "out": str(out), "report": str(out / "report.md"), "seconds": total}
