"""ProcessBench figures of real-text PRMs: F1 per split at threshold 0.5 and dev-chosen,
step AUROC, and the solution-level AUROC of the min-aggregated score against
`final_answer_correct`.

Each (PRM, file) is scored once; from the scores:
- f1_05: F1 on the whole file at threshold 0.5;
- f1_dev: the threshold chosen on 30% of the problems (`eval processbench`'s dev split,
  seed 0), F1 on the other 70%;
- auroc_solution: AUROC of min over steps against final_answer_correct.

    python benchmarks/prm_realtext.py --prm runs/prm_a runs/prm_b \
        --data processbench/gsm8k.json --out results.jsonl

Prints one row per (PRM, file) and appends it to --out; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from prmkit.data.converters import read_samples
from prmkit.demo.real import figures
from prmkit.evaluate.processbench import true_first_error
from prmkit.prm.scoring import load_prm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prm", nargs="+", required=True, help="PRM checkpoint folders")
    ap.add_argument("--data", nargs="+", required=True, help="ProcessBench files")
    ap.add_argument("--out", default="", help="append one JSON row per (PRM, file) here")
    ap.add_argument("--scores", default="", help="folder for per-solution scores (JSONL)")
    ap.add_argument("--limit", type=int, default=0, help="first N solutions per file (0: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for path in a.data:
        samples = read_samples(path)
        samples = samples[: a.limit] if a.limit else samples
        for prm_dir in a.prm:
            prm = load_prm(prm_dir)
            t0 = time.time()
            scores = prm.score([(s.prompt, s.steps) for s in samples])
            secs = time.time() - t0
            row = {"prm": prm_dir, "data": Path(path).stem} | figures(scores, samples)
            row["seconds"] = round(secs, 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if a.scores:
                d = Path(a.scores)
                d.mkdir(parents=True, exist_ok=True)
                name = f"{Path(prm_dir).name}__{Path(path).stem}.jsonl"
                with open(d / name, "w") as f:
                    for s, sc in zip(samples, scores):
                        rec = {"id": s.id, "scores": [round(x, 4) for x in sc]}
                        rec |= {"label": true_first_error(s), "correct": s.correct}
                        f.write(json.dumps(rec) + "\n")
    print(json.dumps({"benchmark": "prm_realtext", "rows": len(rows)}))


if __name__ == "__main__":
    main()
