"""The agent track's labeling and PRM stages: turn labels on the agent's own episodes of
training questions (the exact first wrong turn, and Monte Carlo rollouts), turn-level
PRMs trained on each, and their first-wrong-turn F1 on held-out episodes."""

from __future__ import annotations

from prmkit.commands import eval_processbench as eval_cmd
from prmkit.commands import label as label_cmd
from prmkit.commands import prm_train as train_cmd
from prmkit.commands import sample as sample_cmd
from prmkit.data import Sample, read_jsonl, write_jsonl
from prmkit.demo.agent_sizes import sizes
from prmkit.demo.context import Context, StageReport
from prmkit.label.quality import quality
from prmkit.report import bar_plot


def stage_agent_labels(ctx: Context) -> StageReport:
    """Episodes of training questions, labeled per turn by the world's verifier (exact)
    and, with k rollouts from every turn prefix, by mc (Math-Shepherd; no verifier)."""
    z = sizes(ctx)
    questions = read_jsonl(ctx.artifacts["train_questions"])[: z.prm_questions]
    part = ctx.path("prm_questions.jsonl")
    write_jsonl(part, questions)
    s = sample_cmd.run(
        sample_cmd.Config(
            policy=ctx.artifacts["agent"],
            problems=part,
            out=ctx.path("prm_episodes.jsonl"),
            n=z.prm_n,
            seed=ctx.seed + 1,
            max_new_tokens=z.max_new_tokens,
            world="toolqa",
            progress=ctx.progress,
        )
    )
    exact = ctx.path("labels_exact.jsonl")
    label_cmd.run(label_cmd.Config(method="verify", in_=s["out"], out=exact, progress=False))
    ctx.artifacts["labels"] = {"exact": exact}
    md = (
        f"{s['samples']} episodes of the agent on {len(questions)} training questions "
        f"({z.prm_n} each, {s['accuracy']:.1%} succeed). Exact turn labels from the world's "
        "verifier (`label --method verify`): every turn before the first wrong one is right.\n"
    )
    summ = {"episodes": s["samples"], "success": s["accuracy"]}
    if z.mc_k:
        mc = ctx.path(f"labels_mc_k{z.mc_k}.jsonl")
        lab = label_cmd.run(
            label_cmd.Config(
                method="mc",
                in_=s["out"],
                out=mc,
                policy=ctx.artifacts["agent"],
                k=z.mc_k,
                seed=ctx.seed,
                max_new_tokens=z.max_new_tokens,
                progress=ctx.progress,
            )
        )
        ctx.artifacts["labels"]["mc"] = mc
        q = quality(read_jsonl(mc, Sample.from_dict))
        md += mc_text(q, z.mc_k, lab)
        summ["mc"] = {"k": z.mc_k} | q
    return StageReport("Turn labels", md, summ)


def mc_text(q: dict, k: int, lab: dict) -> str:
    """How the mc labels compare with the exact first wrong turn, in a sentence."""

    def pct(x):
        return "n/a" if x is None else f"{x:.1%}"

    return (
        f"\nMonte Carlo labels (mc, k={k}: a turn's label is the fraction of {k} rollouts from "
        f"its prefix, replayed through the environment, that answer right; {q['rollouts']} "
        f"rollouts in {lab['this_run']['seconds']:.0f} s) put the first wrong turn where the "
        f"verifier does on {pct(q['first_error_acc'])} of the episodes "
        f"({pct(q['first_error_acc_wrong'])} of the failed ones, {pct(q['first_error_acc_right'])} "
        f"of the successful ones); step F1 against the exact labels {q['step_f1']:.3f}.\n"
    )


def stage_agent_prm(ctx: Context) -> StageReport:
    """A built-in turn-level PRM per label source (started from the agent, a tag after
    each turn), scored on the held-out episodes against the exact first wrong turn."""
    z = sizes(ctx)
    held = ctx.artifacts["held_out"]
    rows = {}
    for source, data in ctx.artifacts["labels"].items():
        cfg = train_cmd.Config(
            data=data,
            out=ctx.path(f"prm_{source}"),
            init=ctx.artifacts["agent"],
            block_size=2 * z.block_size,
            steps=z.prm_steps,
            batch_size=16,
            seed=ctx.seed,
            progress=ctx.progress,
        )
        t = train_cmd.run(cfg)
        e = eval_cmd.run(eval_cmd.Config(prm=cfg.out, data=held, progress=False))
        rows[source] = {"loss_first": t["loss_first"], "loss_last": t["loss_last"]} | {
            k: e[k] for k in ("f1", "acc_error", "acc_correct", "auroc", "n_eval")
        }
    ctx.artifacts["prm"] = ctx.path("prm_mc" if "mc" in rows else "prm_exact")
    bars = {  # an undefined figure (n/a) gets no bar rather than a bar at 0
        f"{src} {what}": 100 * r[key]
        for src, r in rows.items()
        for what, key in (("F1", "f1"), ("failed", "acc_error"), ("succ.", "acc_correct"))
        if r[key] is not None
    }
    bar_plot(
        bars,
        ctx.path("prm_f1.png"),
        "Turn-level PRMs: F1, acc. on failed / successful episodes",
        "%",
    )
    n = next(iter(rows.values()))["n_eval"]
    table = "".join(
        f"| {src} | {fmt(r['f1'])} | {fmt(r['acc_error'])} | {fmt(r['acc_correct'])} "
        f"| {fmt(r['auroc'])} | {r['loss_first']:.3f} -> {r['loss_last']:.3f} |\n"
        for src, r in rows.items()
    )
    md = (
        f"Built-in PRMs started from the agent's weights, a tag after each turn (after its "
        f"observation), {z.prm_steps} steps of 16 episodes per label source. Scored on the {n} "
        "held-out episodes against the verifier's first wrong turn at threshold 0.5 "
        "(`eval processbench`: F1 of the accuracies on failed and on successful episodes).\n\n"
        "| labels | first-wrong-turn F1 | acc. on failed | acc. on successful | turn AUROC | loss |\n"
        "|---|---|---|---|---|---|\n" + table + undefined(rows) + "\n![PRM F1](prm_f1.png)\n"
    )
    return StageReport("Turn-level PRM", md, {"prms": rows, "search_prm": ctx.artifacts["prm"]})


def fmt(x: float | None) -> str:
    """A rate to 3 decimals; n/a where undefined (no failed or no successful episodes)."""
    return "n/a" if x is None else f"{x:.3f}"


def undefined(rows: dict) -> str:
    """Why a figure of the table is n/a, when one is."""
    r = next(iter(rows.values()))
    why = []
    if r["acc_correct"] is None:
        why.append(
            "no held-out episode succeeds: the accuracy on successful ones and F1 are undefined"
        )
    if r["acc_error"] is None:
        why.append("no held-out episode fails: the accuracy on failed ones and F1 are undefined")
    if r["auroc"] is None:
        why.append("the held-out turns are all right or all wrong: the turn AUROC is undefined")
    return "".join(f"\nn/a: {w}.\n" for w in why)
