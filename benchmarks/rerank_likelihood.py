"""Best-of-N by the policy's own likelihood: for each problem, the sample whose actions
the policy finds most likely (the sum of its log-probabilities of every action token,
observations excluded: `prmkit.prm.surprise.surprise_features`), no PRM.

The control for a surprise PRM's best-of-N (docs/agents.md, "The agent's surprise
beside the PRM"): if stacking the policy's surprise with a PRM only picked the likeliest
sample, the two would tie.

    python benchmarks/rerank_likelihood.py --policy agent_s0 --in s16.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import torch

from prmkit.data import InputError
from prmkit.data.converters import read_samples
from prmkit.prm.surprise import load_policy, surprise_features


def likeliest(samples: list, feats: list) -> dict[str, bool]:
    """problem id -> whether its likeliest sample (the first among ties) is correct."""
    best: dict[str, tuple[float, bool]] = {}
    for s, f in zip(samples, feats):
        total = sum(sm for _, sm in f)
        if s.problem_id not in best or total > best[s.problem_id][0]:
            best[s.problem_id] = (total, bool(s.correct))
    return {k: v[1] for k, v in best.items()}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--policy", required=True, help="built-in policy checkpoint")
    ap.add_argument("--in", dest="in_", required=True, help="graded samples (several a problem)")
    a = ap.parse_args()
    torch.set_flush_denormal(True)
    try:
        samples = read_samples(a.in_)
        if any(s.correct is None for s in samples):
            raise InputError("every sample needs its grade (correct): sample with --world", a.in_)
        policy = load_policy(a.policy)
        feats = surprise_features(policy.model, policy.tok, [(s.prompt, s.steps) for s in samples])
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    picked = likeliest(samples, feats)
    per_problem = defaultdict(list)
    for s in samples:
        per_problem[s.problem_id].append(bool(s.correct))
    summary = {
        "benchmark": "rerank_likelihood",
        "problems": len(picked),
        "samples": len(samples),
        "likeliest_correct": round(sum(picked.values()) / len(picked), 4),
        "mean_correct": round(sum(s.correct for s in samples) / len(samples), 4),
        "oracle": round(sum(any(v) for v in per_problem.values()) / len(per_problem), 4),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
