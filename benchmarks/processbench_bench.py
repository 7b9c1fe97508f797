"""Benchmark: `prmkit eval processbench` over all four ProcessBench files (3,400
solutions) with a rule PRM, the free-text arithmetic checker by default.

Times the whole command (reading the files, scoring every step, the metrics), in
this process, over --repeats runs; reports the median and every run, and the
checker's own time per solution. Goal: under 60 s for the 3,400 solutions on 2 cores.

    python benchmarks/processbench_bench.py --data ../shared/data/processbench
    python benchmarks/processbench_bench.py --data DIR --prm local-rule:gsm8k --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from prmkit.commands import eval_processbench as ev
from prmkit.data import InputError
from prmkit.data.converters import read_samples
from prmkit.evaluate.report_processbench import find_splits
from prmkit.worlds.gsm8k import check_step

GOAL_S = 60.0


def time_eval(data: str, prm: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    summary = ev.run(ev.Config(prm=prm, data=data, progress=False))
    return time.perf_counter() - t0, summary


def checker_us_per_step(data: str) -> float:
    """Microseconds per step of the free-text checker alone (files read beforehand)."""
    steps = [st for p in find_splits(data).values() for s in read_samples(p) for st in s.steps]
    t0 = time.perf_counter()
    for st in steps:
        check_step(st)
    return 1e6 * (time.perf_counter() - t0) / len(steps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the four ProcessBench files")
    ap.add_argument("--prm", default="rule:gsm8k", help="a rule PRM (rule:gsm8k, local-rule:gsm8k)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of the whole command")
    args = ap.parse_args()
    try:
        if len(find_splits(args.data)) != 4:
            raise InputError(
                "needs all four files (gsm8k, math, olympiadbench, omnimath)", args.data
            )
        runs = [time_eval(args.data, args.prm) for _ in range(max(1, args.repeats))]
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    secs = [round(s, 2) for s, _ in runs]
    summary = runs[-1][1]
    n = sum(m["n_eval"] for m in summary["splits"].values())
    med = statistics.median(secs)
    print(f"{args.prm}: {n} solutions, runs {secs} s, median {med:.2f} s (goal < {GOAL_S:.0f} s)")
    print(f"mean F1 {summary['mean']['f1']}")
    out = {
        "bench": "processbench",
        "prm": args.prm,
        "solutions": n,
        "seconds": secs,
        "median_s": round(med, 2),
        "goal_s": GOAL_S,
        "met": med < GOAL_S,
        "checker_us_per_step": round(checker_us_per_step(args.data), 1),
        "mean_f1": summary["mean"]["f1"],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
