"""The demo's PRM stage: train a step PRM on the demo's labeled samples, evaluate it
ProcessBench-style on held-out problems against the exact verifier.

Not a command of its own: `demo.STAGES` runs `stage_prm`.
"""

from __future__ import annotations

from prmkit.commands import eval_processbench as eval_cmd
from prmkit.commands import prm_train as train_cmd
from prmkit.data import Sample, read_jsonl, write_jsonl


def split_by_problem(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """(train, held-out): whole problems go to the held-out side with probability `fraction`."""
    held = [s for s in samples if eval_cmd.in_dev(s.problem_id, fraction, seed + 1)]
    train = [s for s in samples if not eval_cmd.in_dev(s.problem_id, fraction, seed + 1)]
    return train, held


def stage_prm(ctx):
    from prmkit.commands.demo import StageReport

    samples = read_jsonl(ctx.artifacts["samples"], Sample.from_dict)
    if ctx.artifacts.get("labels_mc"):  # the labeling stage's mc labels, when it ran
        train = read_jsonl(ctx.artifacts["labels_mc"], Sample.from_dict)
        seen = {s.problem_id for s in train}
        held = [s for s in samples if s.problem_id not in seen]
    else:  # the exact verifier's labels, on a split by problem
        train, held = split_by_problem(samples, 0.3, ctx.seed)
    write_jsonl(ctx.path("prm_train.jsonl"), train)
    write_jsonl(ctx.path("prm_heldout.jsonl"), held)
    steps = 60 if ctx.quick else 250
    cfg = train_cmd.Config(
        data=ctx.path("prm_train.jsonl"),
        out=ctx.path("prm"),
        init=ctx.artifacts["policy"],
        steps=steps,
        batch_size=32,
        lr=1e-3,
        seed=ctx.seed,
        progress=ctx.progress,
    )
    t = train_cmd.run(cfg)
    ctx.artifacts["prm"] = cfg.out
    rows = {}
    for name, prm in (("trained PRM", cfg.out), ("rule PRM (exact verifier)", "rule")):
        rows[name] = eval_cmd.run(
            eval_cmd.Config(prm=prm, data=ctx.path("prm_heldout.jsonl"), seed=ctx.seed)
        )
    e = rows["trained PRM"]
    md = (
        f"A step PRM (the policy's {t['examples']}-solution backbone fine-tuned, labels: {t['label_source']}) "
        f"trained for {steps} steps: loss {t['loss_first']:.3f} -> {t['loss_last']:.3f} in {t['seconds']} s. "
        f"Evaluated ProcessBench-style on {len(held)} held-out solutions of unseen problems against the exact "
        "verifier; the threshold is chosen on a dev split of those problems.\n\n"
        "| PRM | F1 | acc. on wrong | acc. on correct | threshold | step AUROC |\n|---|---|---|---|---|---|\n"
        + "".join(
            f"| {k} | {v['f1']} | {v['acc_error']} | {v['acc_correct']} | {v['threshold']:.3f} | {v['auroc']} |\n"
            for k, v in rows.items()
        )
    )
    summary = {
        "label_source": t["label_source"],
        "train_solutions": len(train),
        "heldout_solutions": len(held),
        "loss_first": t["loss_first"],
        "loss_last": t["loss_last"],
    }
    summary |= {k: e[k] for k in ("f1", "acc_error", "acc_correct", "threshold", "auroc", "n_eval")}
    return StageReport("PRM training and ProcessBench-style evaluation", md, summary)
