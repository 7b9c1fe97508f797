"""The demo's PRM stage: mc-label policy samples of training problems, train a PRM on
those labels, evaluate it ProcessBench-style on held-out problems against the exact
verifier.
"""

from __future__ import annotations

from pathlib import Path

from prmkit.commands import eval_processbench as eval_cmd
from prmkit.commands import label as label_cmd
from prmkit.commands import prm_train as train_cmd
from prmkit.commands import sample as sample_cmd
from prmkit.demo.context import Context, StageReport

# (training problems, mc rollouts per prefix k, PRM steps): quick and full demo
BUDGET = {"quick": (100, 4, 150), "full": (300, 8, 300)}


def train_slice(ctx: Context, n_problems: int) -> str:
    """The first `n_problems` training problems, as a JSONL path (the PRM's own problems,
    disjoint from the held-out problems that every evaluation uses)."""
    lines = Path(ctx.artifacts["train_problems"]).read_text().splitlines()[:n_problems]
    path = ctx.path("prm_problems.jsonl")
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def stage_prm(ctx: Context) -> StageReport:
    """Sample the policy on training problems, label the samples with mc (no verifier),
    train an implicit-parameterized PRM on those labels, evaluate on held-out samples."""
    n_problems, k, steps = BUDGET["quick" if ctx.quick else "full"]
    sampled = sample_cmd.run(
        sample_cmd.Config(
            policy=ctx.artifacts["policy"],
            problems=train_slice(ctx, n_problems),
            out=ctx.path("prm_train_samples.jsonl"),
            n=4,
            seed=ctx.seed + 1,
            progress=ctx.progress,
        )
    )
    labeled = label_cmd.run(
        label_cmd.Config(
            method="mc",
            in_=sampled["out"],
            out=ctx.path("prm_train.jsonl"),
            policy=ctx.artifacts["policy"],
            k=k,
            seed=ctx.seed,
            progress=ctx.progress,
        )
    )
    cfg = train_cmd.Config(
        data=ctx.path("prm_train.jsonl"),
        out=ctx.path("prm"),
        kind="implicit",
        objective="step",
        init=ctx.artifacts["policy"],
        steps=steps,
        seed=ctx.seed,
        progress=ctx.progress,
    )
    t = train_cmd.run(cfg)
    ctx.artifacts["prm"] = cfg.out
    held = ctx.artifacts["samples"]  # the held-out problems' samples
    rows = {}
    for name, prm in (("trained PRM", cfg.out), ("rule PRM (exact verifier)", "rule")):
        rows[name] = eval_cmd.run(eval_cmd.Config(prm=prm, data=held, seed=ctx.seed))
    e = rows["trained PRM"]
    md = (
        f"{sampled['samples']} policy solutions of {n_problems} training problems, labeled by Monte Carlo "
        f"rollouts (mc, k={k}, {labeled['rollouts']} rollouts, no verifier) in {labeled['this_run']['seconds']:.0f} s. "
        "On them, an implicit-parameterized PRM (step score sigmoid(beta * log pi_phi/pi_ref of the prefix), "
        f"pi_phi and pi_ref started from the policy) trained on the mc step labels for {steps} steps: "
        f"loss {t['loss_first']:.3f} -> {t['loss_last']:.3f} in {t['seconds']} s. Evaluated ProcessBench-style "
        f"on the {e['n_eval'] + e.get('n_dev', 0)} samples of held-out problems against the exact verifier "
        "(threshold chosen on a dev split of those problems, the rest evaluated).\n\n"
        "| PRM | F1 | acc. on wrong | acc. on correct | threshold | step AUROC |\n|---|---|---|---|---|---|\n"
        + "".join(
            f"| {k} | {v['f1']} | {v['acc_error']} | {v['acc_correct']} | {v['threshold']:.3f} | {v['auroc']} |\n"
            for k, v in rows.items()
        )
        + "\nOther label sources and seeds: docs/benchmarks.md and docs/prm-evaluation.md.\n"
    )
    summary = {
        "label_source": t["label_source"],
        "train_solutions": sampled["samples"],
        "mc_k": k,
        "loss_first": t["loss_first"],
        "loss_last": t["loss_last"],
    }
    summary |= {k: e[k] for k in ("f1", "acc_error", "acc_correct", "threshold", "auroc", "n_eval")}
    return StageReport("PRM training and ProcessBench-style evaluation", md, summary)
