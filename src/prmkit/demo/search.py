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
    table = "".join(
        f"| {lab} | {nn} | {st['accuracy']:.1%} | {st['tokens_per_problem']:.0f} | {st['prm_tokens_per_problem']:.0f} | {secs:.1f} |\n"
        for lab, (nn, st, secs) in stats.items()
    )
    bon_st = stats["bon-min"][1]
    beam_lines = "".join(
        f"- {lab} (N={nn}): {st['accuracy']:.1%} against bon@{n} {bon_st['accuracy']:.1%}, with "
        f"{st['tokens_per_problem'] / max(1.0, bon_st['tokens_per_problem']):.0%} of bon@{n}'s generated tokens "
        f"(goal: bon@{n}'s accuracy with <= 50%: {'met' if st['accuracy'] >= bon_st['accuracy'] and st['tokens_per_problem'] <= 0.5 * bon_st['tokens_per_problem'] else 'not met'}).\n"
        for lab, (nn, st, _) in stats.items()
        if lab.startswith("beam")
    )
    wvm = g["weighted_vote_margin"]
    md = (
        f"{len(problems)} held-out problems; PRM: {prm_name}. Steps are scored by `min`. "
        f"bon, vote and weighted-vote choose from one pool of {n} samples per problem (sampled in {pool_s:.1f} s); "
        "their curves over N subsample that pool. Beam: B=2 beams x M=4 proposals a step (8 a round); "
        "beam K=4 (DVTS): 4 independent subtrees of one beam x M=2 proposals, their answers pooled by weighted vote (wv). "
        f"Reject: {n} candidates, scored after their first step, the best 25% continued.\n\n"
        "| method | N | accuracy | generated tokens / problem | PRM tokens / problem | seconds |\n|---|---|---|---|---|---|\n"
        + table
        + f"\n- weighted-vote@{n} minus vote@{n}: {wvm['points']:+.1f} points (goal >= +5: {'met' if wvm['met'] else 'not met'}).\n"
        + beam_lines
        + f"\nOne seed and {len(problems)} problems: expect a few points of noise. Several seeds: `{BENCH}`.\n\n"
        "![accuracy vs N](accuracy_vs_n.png) ![accuracy vs tokens](accuracy_vs_tokens.png)\n"
    )
    summary = {"prm": scorer.kind, "problems": len(problems), "goals": g}
    summary["methods"] = {
        lab: {"n": nn} | {k: v for k, v in st.items() if k != "curve"}
        for lab, (nn, st, _) in stats.items()
    }
    return StageReport("Test-time search", md, summary)
