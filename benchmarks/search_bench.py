"""Accuracy and compute of every search method, over several seeds, with the issue's goals.

Per seed: one pool of --n samples per problem, scored once by the PRM, gives vote,
bon and weighted-vote (every aggregator) at every N = 1, 2, 4, ..., n by subsampling;
then beam search at each --beam-n and early rejection at --reject-n. Prints a table
(mean and standard deviation over seeds), the two goals, one JSON line; writes every
run's records and the plots (accuracy vs N, vs tokens, and the aggregators) to --out.

    python benchmarks/search_bench.py --policy POLICY --problems TEST.jsonl --prm rule \\
        [--seeds 0 1 2] [--n 64] [--beam-n 4 8 16] [--reject-n 16] [--out search_bench]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from prmkit.data import Problem, read_jsonl, write_jsonl
from prmkit.models.load import load_generator
from prmkit.report import line_plot
from prmkit.search import AGGREGATORS, SearchSettings, load_scorer, points
from prmkit.search.beam import beam
from prmkit.search.curves import goals
from prmkit.search.plots import plot_points
from prmkit.search.reject import reject
from prmkit.search.sampled import records_from_pools, sample_pools


def run_seed(policy, scorer, problems, args, seed: int, out: Path) -> tuple[list, dict]:
    records, seconds = [], {}
    base = dict(
        seed=seed,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        curve_draws=args.curve_draws,
    )
    t0 = time.perf_counter()
    pools = sample_pools(policy, scorer, problems, SearchSettings(n=args.n, **base), args.progress)
    seconds["pool"] = time.perf_counter() - t0
    runs = [("vote", "min")] + [(m, a) for m in ("bon", "weighted-vote") for a in args.aggregates]
    for method, agg in runs:
        recs = records_from_pools(
            method, pools, scorer, SearchSettings(n=args.n, aggregate=agg, **base)
        )
        records.append(recs)
    # beam and reject aggregate partial solutions and choose among finished ones alike
    grown = dict(aggregate=args.beam_aggregate, select=args.select, **base)
    for bn in args.beam_n:
        s = SearchSettings(n=bn, expand=args.expand, subtrees=args.subtrees, **grown)
        t0 = time.perf_counter()
        records.append(beam(policy, scorer, problems, s, args.progress))
        seconds[records[-1][0].label + f" N={bn}"] = time.perf_counter() - t0
    for rn in args.reject_n:
        s = SearchSettings(n=rn, keep=args.keep, reject_after=args.reject_after, **grown)
        t0 = time.perf_counter()
        records.append(reject(policy, scorer, problems, s, args.progress))
        seconds[records[-1][0].label + f" N={rn}"] = time.perf_counter() - t0
    for recs in records:
        name = recs[0].label.replace(" ", "_").replace("=", "")
        write_jsonl(out / f"seed{seed}_{name}_n{recs[0].n}.jsonl", recs)
    return [r for recs in records for r in recs], seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", required=True)
    ap.add_argument("--problems", required=True)
    ap.add_argument(
        "--prm",
        default="rule",
        help="rule, noisy-rule:SIGMA[:SEED] (experiments only) or a trained PRM dir",
    )
    ap.add_argument(
        "--limit", type=int, default=0, help="use only the first LIMIT problems (0 = all)"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument(
        "--aggregates",
        nargs="+",
        default=["min", "prod", "last", "mean"],
        choices=list(AGGREGATORS),
    )
    ap.add_argument("--beam-n", type=int, nargs="*", default=[4, 8, 16])
    ap.add_argument("--expand", type=int, default=4)
    ap.add_argument(
        "--subtrees",
        type=int,
        default=1,
        help="beam: independent subtrees (a large value gives DVTS: one beam per subtree)",
    )
    ap.add_argument("--beam-aggregate", default="min", choices=list(AGGREGATORS))
    ap.add_argument(
        "--select",
        default="best",
        choices=["best", "weighted"],
        help="beam / reject: answer among finished solutions (best score or weighted vote)",
    )
    ap.add_argument("--reject-n", type=int, nargs="*", default=[16])
    ap.add_argument("--keep", type=float, default=0.25)
    ap.add_argument("--reject-after", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--curve-draws", type=int, default=32)
    ap.add_argument("--goal-n", type=int, default=16)
    ap.add_argument("--out", default="search_bench")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problems = read_jsonl(args.problems, Problem.from_dict)
    problems = problems[: args.limit] if args.limit else problems
    policy, scorer = load_generator(args.policy), load_scorer(args.prm)
    per_seed, all_records, all_seconds = [], [], []
    for seed in args.seeds:
        recs, secs = run_seed(policy, scorer, problems, args, seed, out)
        per_seed.append(points(recs))
        all_records += recs
        all_seconds.append(secs)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.1f}s" for k, v in secs.items()), flush=True)
    pooled = points(all_records)
    print(
        f"\npolicy {args.policy}, PRM {args.prm} ({getattr(scorer, 'kind', '?')}), {len(problems)} problems, seeds {args.seeds}"
    )
    print(
        f"{'method':<28}{'N':>4}  {'accuracy (mean ± sd over seeds)':<32}{'gen tokens/problem':>20}{'PRM tokens/problem':>20}"
    )
    for label, by_n in pooled.items():
        for n, p in by_n.items():
            if label.startswith(("beam", "reject")) or n in (1, 4, args.goal_n, args.n):
                accs = [ps[label][n]["accuracy"] for ps in per_seed if n in ps.get(label, {})]
                sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
                print(
                    f"{label:<28}{n:>4}  {p['accuracy']:.3f} ± {sd:.3f}{'':<19}{p['tokens']:>20.0f}{p['prm_tokens']:>20.0f}"
                )
    g_seeds = [goals(ps, args.beam_aggregate, n=args.goal_n) for ps in per_seed]
    g = goals(pooled, args.beam_aggregate, n=args.goal_n)
    wv = g.get("weighted_vote_margin")
    if wv:
        per = [x["weighted_vote_margin"]["points"] for x in g_seeds]
        print(
            f"\nweighted-vote@{args.goal_n} - vote@{args.goal_n}: {wv['points']:+.1f} points (per seed {per}); goal >= +5: {'MET' if wv['met'] else 'NOT MET'}"
        )
    bb = g.get("beam_vs_bon")
    if bb:
        print(
            f"bon@{args.goal_n}: accuracy {bb['bon_accuracy']:.3f} with {bb['bon_tokens']:.0f} tokens/problem; "
            + (
                f"cheapest beam reaching it: {bb['beam_label']} N={bb['beam_n']} at {bb['token_ratio']:.0%} of the tokens"
                if bb["beam_n"]
                else f"no beam reaches it (best beam {bb['best_beam']['label']} N={bb['best_beam']['n']}: {bb['best_beam']['accuracy']:.3f})"
            )
            + f"; goal <= 50%: {'MET' if bb['met'] else 'NOT MET'}"
        )
        print(
            f"  per seed (N, token share): {[(x['beam_vs_bon']['beam_n'], x['beam_vs_bon']['token_ratio']) for x in g_seeds]}"
        )
    title = f"{Path(args.policy).name}, PRM {args.prm}"
    agg = args.beam_aggregate
    main_pts = {
        k: v
        for k, v in pooled.items()
        if k == "vote"
        or k in (f"bon-{agg}", f"weighted-vote-{agg}")
        or k.startswith(("beam", "reject"))
    }
    plot_points(main_pts, str(out), title)
    by_agg = {
        k: (list(v), [p["accuracy"] for p in v.values()])
        for k, v in pooled.items()
        if k.startswith(("bon-", "weighted-vote-"))
    }
    line_plot(
        by_agg,
        str(out / "aggregators.png"),
        f"Step-score aggregators ({title})",
        "N",
        "accuracy",
        logx=True,
    )
    print(
        json.dumps(
            {
                "bench": "search",
                "prm": args.prm,
                "problems": len(problems),
                "seeds": args.seeds,
                "goals": g,
                "goals_per_seed": g_seeds,
                "seconds": all_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
