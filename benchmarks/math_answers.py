"""The math world's answer reading and equivalence on real solutions (ProcessBench).

ProcessBench's MATH split (Zheng et al. 2024) has 1,000 LLM solutions with a verdict
on each final answer (`final_answer_correct`) but no reference answers. Two checks
need none:

- coverage: the share of solutions whose final answer the world reads (`\\boxed{}`,
  else "the answer is");
- pairs: for problems with two solutions, the world's `equivalent` on their two
  answers against the verdicts: both right -> the answers must agree; exactly one
  right -> they must differ.

With `--gsm8k TEST.jsonl` (ProcessBench's GSM8K split, whose problems are GSM8K test
problems), each solution is graded against the GSM8K reference by the math world's
`grade`, from worker threads, and compared with the human verdict.

    python benchmarks/math_answers.py --data processbench/math.json --threads 2
    python benchmarks/math_answers.py --data processbench/gsm8k.json --gsm8k gsm8k/test.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from prmkit.worlds import math as M


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="ProcessBench math.json (or any split)")
    ap.add_argument("--threads", type=int, default=2, help="check pairs from this many threads")
    ap.add_argument("--gsm8k", help="GSM8K test JSONL: grade --data against its references")
    a = ap.parse_args()
    rows = json.load(open(a.data, encoding="utf-8"))
    if a.gsm8k:
        print(json.dumps(against_references(rows, a.gsm8k, a.threads)))
        return
    t0 = time.perf_counter()
    answers = [M.extract_answer(r["steps"]) for r in rows]
    by_problem = defaultdict(list)
    for r, ans in zip(rows, answers):
        by_problem[r["problem"]].append((ans, r["final_answer_correct"]))
    pairs = [v for v in by_problem.values() if len(v) == 2 and v[0][0] and v[1][0]]
    pairs = [p for p in pairs if p[0][1] or p[1][1]]  # both wrong: nothing to expect
    with ThreadPoolExecutor(a.threads) as pool:
        same = list(pool.map(lambda p: M.equivalent(p[0][0], p[1][0]), pairs))
    agree = sum(s == (p[0][1] and p[1][1]) for s, p in zip(same, pairs))
    print(
        json.dumps(
            {
                "solutions": len(rows),
                "answer_read": round(sum(x is not None for x in answers) / len(rows), 4),
                "pairs": len(pairs),
                "pairs_both_right": sum(p[0][1] and p[1][1] for p in pairs),
                "pairs_agreeing_with_verdicts": agree,
                "threads": a.threads,
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    )


def against_references(rows: list[dict], gsm8k: str, threads: int) -> dict:
    """The math world's grade of each solution against its GSM8K reference, beside the
    human verdict `final_answer_correct`."""
    with open(gsm8k, encoding="utf-8") as f:
        refs = [json.loads(line) for line in f if line.strip()]
    ref = {r["question"].strip(): r["answer"].split("####")[-1].strip() for r in refs}
    rows = [r for r in rows if r["problem"].strip() in ref]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        grades = list(
            pool.map(lambda r: M.grade(r["problem"], ref[r["problem"].strip()], r["steps"]), rows)
        )
    verdict = [r["final_answer_correct"] for r in rows]
    agree = sum(g.correct == v for g, v in zip(grades, verdict))
    return {
        "solutions": len(rows),
        "answer_read": round(sum(g.final_answer is not None for g in grades) / len(rows), 4),
        "agree_with_verdict": round(agree / len(rows), 4),
        "graded_right_verdict_wrong": sum(g.correct and not v for g, v in zip(grades, verdict)),
        "graded_wrong_verdict_right": sum(v and not g.correct for g, v in zip(grades, verdict)),
        "threads": threads,
        "seconds": round(time.perf_counter() - t0, 2),
    }


if __name__ == "__main__":
    main()
