"""How good automatic labels are, against the exact verifier's grade (`Sample.first_error`).

- first-error accuracy: the fraction of samples whose labeled first error equals the
  exact one (-1 = no error counts too); also on the wrong and the right samples apart.
- step F1: precision and recall of flagging wrong steps, over every step of every
  sample, where the exact label of step i is wrong iff i >= first_error >= 0:
      P = TP / (TP + FP),  R = TP / (TP + FN),  F1 = 2PR / (P + R)
- cost: rollouts and tokens from each label's provenance.
"""

from __future__ import annotations

import time

from prmkit.data import Sample, read_jsonl
from prmkit.data.formats import hard_from_first_error
from prmkit.label.options import OmegaOptions


def quality(labeled: list[Sample]) -> dict:
    """Label quality and cost over samples that carry labels and an exact first_error."""
    rows = [s for s in labeled if s.labels is not None and s.first_error is not None]
    if not rows:
        raise ValueError("no samples with both labels and an exact first_error")
    hit = {True: [0, 0], False: [0, 0]}  # exact is wrong -> [matches, count]
    tp = fp = fn = 0
    rollouts = tokens = 0
    for s in rows:
        lab = s.labels
        wrong = s.first_error >= 0
        hit[wrong][0] += lab.first_error == s.first_error
        hit[wrong][1] += 1
        exact = hard_from_first_error(s.first_error, len(s.steps))
        pred = (
            lab.hard
            if lab.hard is not None
            else hard_from_first_error(lab.first_error, len(s.steps))
        )
        for e, p in zip(exact, pred):
            tp += not e and not p
            fp += e and not p
            fn += not e and p
        rollouts += int(lab.provenance.get("rollouts", 0))
        tokens += int(lab.provenance.get("tokens", 0))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    n = len(rows)
    return {
        "n": n,
        "first_error_acc": round((hit[True][0] + hit[False][0]) / n, 4),
        "first_error_acc_wrong": round(hit[True][0] / hit[True][1], 4) if hit[True][1] else None,
        "first_error_acc_right": round(hit[False][0] / hit[False][1], 4) if hit[False][1] else None,
        "step_precision": round(prec, 4),
        "step_recall": round(rec, 4),
        "step_f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
        "rollouts": rollouts,
        "rollouts_per_sample": round(rollouts / n, 3),
        "tokens": tokens,
    }


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def aggregate(runs: list[dict]) -> list[dict]:
    """Mean (and spread over seeds) of each (method, k): one row per method and k.

    runs: dicts with method, k, seed, seconds and the keys of `quality`.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["method"], r["k"]), []).append(r)
    rows = []
    for (method, k), rs in groups.items():
        acc = [r["first_error_acc"] for r in rs]
        rows.append(
            {
                "method": method,
                "k": k,
                "seeds": len(rs),
                "first_error_acc": round(_mean(acc), 4),
                "first_error_acc_min": min(acc),
                "first_error_acc_max": max(acc),
                "first_error_acc_wrong": round(
                    _mean([r["first_error_acc_wrong"] or 0.0 for r in rs]), 4
                ),
                "step_f1": round(_mean([r["step_f1"] for r in rs]), 4),
                "rollouts_per_sample": round(_mean([r["rollouts_per_sample"] for r in rs]), 3),
                "rollouts": round(_mean([r["rollouts"] for r in rs])),
                "seconds": round(_mean([r["seconds"] for r in rs]), 1),
            }
        )
    mc = {r["k"]: r for r in rows if r["method"] == "mc"}
    for r in rows:
        base = mc.get(r["k"])
        r["rollouts_vs_mc"] = (
            round(r["rollouts"] / base["rollouts"], 4) if base and base["rollouts"] else None
        )
    return sorted(rows, key=lambda r: (r["method"] != "mc", r["method"], r["k"]))


def goal(rows: list[dict], max_ratio: float = 0.5) -> dict:
    """Per k: does omega reach mc's first-error accuracy with at most max_ratio of its rollouts?"""
    by = {(r["method"], r["k"]): r for r in rows}
    out = {}
    for (method, k), r in by.items():
        if method != "omega" or ("mc", k) not in by:
            continue
        m = by["mc", k]
        out[str(k)] = {
            "acc_omega": r["first_error_acc"],
            "acc_mc": m["first_error_acc"],
            "rollout_ratio": r["rollouts_vs_mc"],
            "met": r["first_error_acc"] >= m["first_error_acc"]
            and (r["rollouts_vs_mc"] or 0) <= max_ratio,
        }
    return out


def markdown_table(rows: list[dict]) -> str:
    """The comparison as a Markdown table (mean over seeds, [min, max] of accuracy)."""
    head = "| method | k | first-error acc | acc on wrong solutions | step F1 (wrong steps) | rollouts / solution | rollouts vs mc | seconds |\n"
    head += "|---|---|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        spread = (
            f" [{r['first_error_acc_min']:.3f}, {r['first_error_acc_max']:.3f}]"
            if r["seeds"] > 1
            else ""
        )
        ratio = f"{r['rollouts_vs_mc']:.0%}" if r["rollouts_vs_mc"] is not None else "-"
        lines.append(
            f"| {r['method']} | {r['k']} | {r['first_error_acc']:.3f}{spread} | {r['first_error_acc_wrong']:.3f} | "
            f"{r['step_f1']:.3f} | {r['rollouts_per_sample']:.1f} | {ratio} | {r['seconds']} |\n"
        )
    return head + "".join(lines)


# Benchmark rows that are a method with other options.
VARIANTS = {"omega-all-k": ("omega", {"omega": OmegaOptions(early_stop=False)})}


def label_and_score(
    samples: str,
    out: str,
    method: str,
    policy: str,
    k: int,
    seed: int = 0,
    chunk: int = 256,
    progress: bool = False,
) -> dict:
    """Label a samples file (resumably) with one method (or VARIANTS name) and k, and
    score it against the exact grade: one benchmark row."""
    from prmkit.label.engine import LabelJob, run_labeling

    base, options = VARIANTS.get(method, (method, {}))
    t0 = time.time()
    job = LabelJob(method=base, policy=policy, k=k, seed=seed, **options)
    summary = run_labeling(job, samples, out, chunk=chunk, progress=progress)
    row = {"method": method, "k": k, "seed": seed, "seconds": round(time.time() - t0, 1)}
    row |= quality(read_jsonl(out, Sample.from_dict))
    row["resumed"] = summary["resumed"]
    return row
