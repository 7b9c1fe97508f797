"""Merge mc label files of the same samples, labelled with different seeds: k adds up.

Two `prmkit label --method mc` runs on the same samples with --seed 0 and --seed 1, k
rollouts each, are one run of 2k rollouts per prefix (the rollouts are independent
draws): each step's soft label is the k-weighted mean of the runs' soft labels, the
hard label soft > 0 (Math-Shepherd's estimator, as `label --method mc` writes it), the
first error the first hard False. Provenance sums k, rollouts and tokens and lists the
seeds. So k=8 labels can be made from a k=4 file already paid for and a second k=4 run.

    prmkit label --method mc --policy agent --in s.jsonl --k 4 --seed 1 --out mc_s1.jsonl
    python benchmarks/mc_merge.py mc_s0.jsonl mc_s1.jsonl --out mc_k8.jsonl

Every file must hold the same sample ids with the same steps, mc labels with the same
policy, temperature and budget, and different seeds; otherwise FILE:LINE and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from prmkit.data import InputError, read_jsonl, write_jsonl
from prmkit.data.formats import first_error_from_hard

SAME = ("method", "policy", "temperature", "max_new_tokens", "estimator")


def _check(path: str, line: int, rec: dict, first: dict | None) -> None:
    prov = (rec.get("labels") or {}).get("provenance") or {}
    if prov.get("method") != "mc" or not isinstance(rec["labels"].get("soft"), list):
        raise InputError(f"{path}:{line}: not an mc-labelled sample (labels.provenance.method)")
    if first is None:
        return
    fprov = first["labels"]["provenance"]
    for key in SAME:
        if prov.get(key) != fprov.get(key):
            raise InputError(
                f"{path}:{line}: {key} {prov.get(key)!r} differs from the first file's "
                f"{fprov.get(key)!r}"
            )
    if rec["steps"] != first["steps"]:
        raise InputError(
            f"{path}:{line}: sample {rec['id']!r} has other steps than the first file's"
        )


def merge(runs: list[dict]) -> dict:
    """One sample's mc labels from several runs (the records of one sample, one per run)."""
    provs = [r["labels"]["provenance"] for r in runs]
    ks = [p["k"] for p in provs]
    soft = [
        sum(k * r["labels"]["soft"][i] for k, r in zip(ks, runs)) / sum(ks)
        for i in range(len(runs[0]["steps"]))
    ]
    hard = [v > 0 for v in soft]
    prov = dict(provs[0]) | {
        "k": sum(ks),
        "rollouts": sum(p["rollouts"] for p in provs),
        "tokens": sum(p["tokens"] for p in provs),
        "seed": [p.get("seed") for p in provs],
        "merged": len(runs),
    }
    labels = dict(runs[0]["labels"]) | {
        "first_error": first_error_from_hard(hard),
        "hard": hard,
        "soft": soft,
        "provenance": prov,
    }
    return dict(runs[0]) | {"labels": labels}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="+", help="mc-labelled JSONL files of the same samples")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        if len(a.files) < 2:
            raise InputError("give two or more mc label files")
        tables = []
        for path in a.files:
            tables.append({})
            for line, rec in enumerate(read_jsonl(path), 1):
                base = tables[0].get(rec["id"]) if len(tables) > 1 else None
                if len(tables) > 1 and base is None:
                    raise InputError(f"{path}:{line}: sample {rec['id']!r} is not in {a.files[0]}")
                _check(path, line, rec, base)
                tables[-1][rec["id"]] = rec
        for path, table in zip(a.files[1:], tables[1:]):
            if len(table) != len(tables[0]):
                raise InputError(f"{path}: {len(table)} samples, {a.files[0]} has {len(tables[0])}")
        seeds = [next(iter(t.values()))["labels"]["provenance"].get("seed") for t in tables]
        if len(set(map(str, seeds))) != len(seeds):
            raise InputError(f"the files share a seed ({seeds}): their rollouts are the same draws")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = [merge([t[i] for t in tables]) for i in tables[0]]
    write_jsonl(a.out, out)
    changed = sum(
        o["labels"]["first_error"] != tables[0][o["id"]]["labels"]["first_error"] for o in out
    )
    print(
        json.dumps(
            {
                "benchmark": "mc_merge",
                "out": a.out,
                "samples": len(out),
                "k": out[0]["labels"]["provenance"]["k"] if out else 0,
                "first_error_changed": changed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
