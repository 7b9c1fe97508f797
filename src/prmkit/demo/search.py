"""The demo's search stage: every method on held-out problems, with compute, and plots.

Budget: about 60 s in the full demo, 15 s with --quick (2 CPU cores). The PRM is the
demo's trained PRM (ctx.artifacts["prm"]) when an earlier stage made one, else the
exact rule PRM (an oracle), and the report says which.
"""

from __future__ import annotations

import time

from prmkit.data import Problem, read_jsonl, write_jsonl
from prmkit.demo.context import Context, StageReport
from prmkit.models.load import load_generator
from prmkit.prm.base import RulePRM, load_scorer
from prmkit.search.beam import beam
from prmkit.search.core import SearchSettings
from prmkit.search.curves import goals, points, summarize
from prmkit.search.diagnose import ranking
from prmkit.search.plots import plot_points
from prmkit.search.reject import reject
from prmkit.search.sampled import records_from_pools, sample_pools

BENCH = (
    "python benchmarks/search_bench.py --policy POLICY --problems TEST.jsonl --prm PRM --n 16 "
    "--beam-n 4 6 8 --expand 2 --subtrees 16 --select weighted --seeds 0 1 2"
)


def stage_search(ctx: Context) -> StageReport:
    n_prob, n = (24, 16) if ctx.quick else (80, 16)
    problems = read_jsonl(ctx.artifacts["test_problems"], Problem.from_dict)[:n_prob]
    policy = load_generator(ctx.artifacts["policy"])
    if ctx.artifacts.get("prm"):
        scorer, prm_name = (
            load_scorer(ctx.artifacts["prm"]),
            f"the trained PRM `{ctx.artifacts['prm']}`",
        )
    else:
        scorer, prm_name = (
            RulePRM(),
            "the exact rule PRM (an oracle: no trained PRM was made in this run)",
        )
    s = SearchSettings(n=n, seed=ctx.seed, curve_draws=16)
    rows, records = [], []
    t0 = time.perf_counter()
    pools = sample_pools(policy, scorer, problems, s, ctx.progress)
    pool_s = time.perf_counter() - t0
    for method in ("vote", "bon", "weighted-vote"):
        records += records_from_pools(method, pools, scorer, s)
        rows.append((records[-1].label, n, records[-len(problems) :], pool_s))
    for fn, sn in (
        (beam, SearchSettings(n=8, expand=4, seed=ctx.seed)),
        # DVTS: 4 independent one-beam subtrees, answers pooled by weighted vote
        (beam, SearchSettings(n=8, expand=2, subtrees=4, select="weighted", seed=ctx.seed)),
        (reject, SearchSettings(n=n, keep=0.25, seed=ctx.seed)),
    ):
        t0 = time.perf_counter()
        recs = fn(policy, scorer, problems, sn, ctx.progress)
        rows.append((recs[0].label, sn.n, recs, time.perf_counter() - t0))
        records += recs
    write_jsonl(ctx.path("search_results.jsonl"), records)
    pts = points(records)
    plot_points(pts, str(ctx.out), "demo")
    g = goals(pts, "min", n=n)
    stats = {label: (nn, summarize(recs, secs), secs) for label, nn, recs, secs in rows}
    vote_acc = stats["vote"][1]["accuracy"]
    table = "".join(
        f"| {lab} | {nn} | {st['accuracy']:.1%} | {100 * (st['accuracy'] - vote_acc):+.1f} "
        f"| {st['tokens_per_problem']:.0f} | {st['prm_tokens_per_problem']:.0f} | {secs:.1f} |\n"
        for lab, (nn, st, secs) in stats.items()
    )
    diag = ranking(pools, scorer, "min")
    md = (
        f"{len(problems)} held-out problems; PRM: {prm_name}. Steps are scored by `min`. "
        f"bon, vote and weighted-vote choose from one pool of {n} samples per problem (sampled in {pool_s:.1f} s); "
        "their curves over N subsample that pool. Beam: B=2 beams x M=4 proposals a step (8 a round); "
        "beam K=4 (DVTS): 4 independent subtrees of one beam x M=2 proposals, their answers pooled by weighted vote (wv). "
        f"Reject: {n} candidates, scored after their first step, the best 25% continued. "
        f"Majority vote over {n} samples (vote@{n}, no PRM) is the baseline every row is compared with.\n\n"
        f"| method | N | accuracy | minus vote@{n} (points) | generated tokens / problem | PRM tokens / problem | seconds |\n"
        "|---|---|---|---|---|---|---|\n"
        + table
        + "\n"
        + comparisons(stats, g, n)
        + bon_explained(pts, diag, n)
        + f"\nOne seed and {len(problems)} problems: expect a few points of noise. Several seeds: `{BENCH}`.\n\n"
        "![accuracy vs N](accuracy_vs_n.png) ![accuracy vs tokens](accuracy_vs_tokens.png)\n"
    )
    summary = {"prm": scorer.kind, "problems": len(problems), "goals": g, "bon_ranking": diag}
    summary["methods"] = {
        lab: {"n": nn} | {k: v for k, v in st.items() if k != "curve"}
        for lab, (nn, st, _) in stats.items()
    }
    return StageReport("Test-time search", md, summary)


def comparisons(stats: dict, g: dict, n: int) -> str:
    """Each PRM method against vote@n and bon@n, in figures, with the targets beside them."""
    vote, bon = stats["vote"][1], stats["bon-min"][1]
    wvm = g["weighted_vote_margin"]
    lines = [
        f"- weighted-vote@{n} minus vote@{n}: {wvm['points']:+.1f} points (target: +5 or more).\n"
    ]
    for lab, (nn, st, _) in stats.items():
        if lab.startswith("beam"):
            share = st["tokens_per_problem"] / max(1.0, bon["tokens_per_problem"])
            lines.append(
                f"- {lab} (N={nn}): {st['accuracy']:.1%}, against bon@{n} {bon['accuracy']:.1%} and "
                f"vote@{n} {vote['accuracy']:.1%}, with {share:.0%} of bon@{n}'s generated tokens "
                f"(target: bon@{n}'s accuracy with at most 50% of its tokens).\n"
            )
    return "".join(lines)


def bon_explained(pts: dict, diag: dict, n: int) -> str:
    """Best-of-N's curve over N and the measured reason for its shape (search.diagnose)."""
    curve = {int(k): v["accuracy"] for k, v in pts["bon-min"].items()}
    votes = {int(k): v["accuracy"] for k, v in pts["vote"].items()}
    first, last = min(curve), max(curve)
    top = max(curve, key=lambda k: curve[k])
    shape = (
        f"falls from {curve[top]:.1%} at N={top} to {curve[last]:.1%} at N={last}"
        if curve[last] < curve[top] - 1e-9
        else f"goes from {curve[first]:.1%} at N={first} to {curve[last]:.1%} at N={last}"
    )
    out = (
        f"\nbon-min {shape} (vote: {votes[first]:.1%} to {votes[last]:.1%}). Measured on the "
        f"same pool: a correct solution is among the {n} samples for {diag['coverage']:.1%} of the "
        f"problems (pass@{n})"
    )
    if diag["pairwise"] is None:
        return (
            out
            + "; no problem has both a correct and a wrong solution, so the PRM's ranking is not measured here.\n"
        )
    out += (
        f"; the PRM scores a correct solution above a wrong one of the same problem in "
        f"{diag['pairwise']:.1%} of {diag['pairs']} such pairs (50% is chance); bon@{n} picks a "
        f"wrong solution in {diag['misses']} of the {diag['covered']} problems that have a "
        "correct one."
    )
    if diag["at_error"] is not None and diag["at_ok"] is not None:
        out += (
            f" On the wrong solutions it picked, the PRM's mean score at the verifier's first "
            f"wrong step is {diag['at_error']:.2f}, against {diag['at_ok']:.2f} on the steps of "
            "correct solutions."
        )
    if curve[last] < curve[top] - 1e-9:
        out += (
            " With the PRM ranking this far from perfect, every extra candidate is another "
            "chance of a wrong solution that outscores the correct ones, so best-of-N falls as "
            "N grows; the vote needs no PRM and is not exposed to it."
        )
    return out + "\n"
