"""Toolqa episodes cut after the entity pick: the question, the search, the first get.

Input: episodes labelled by `prmkit label --method verify --world toolqa` (made ones,
`toolqa_corrupted.py`, or sampled). Each episode whose first `get` directly follows a
`search` keeps its turns up to that `get`; labels, turns and statuses are cut with it
(a first error after the cut becomes -1: the kept turns are right). Episodes without
such a pick are dropped. What is left isolates the look-alike pick: a PRM trained on it
has nothing else to learn but wrong relations (docs/agents.md).

    python benchmarks/toolqa_pick_cut.py made_exact.jsonl picks.jsonl
"""

from __future__ import annotations

import argparse
import json


def pick_turn(steps: list[str]) -> int | None:
    """Index of the first `get` right after a `search`, or None."""
    for i in range(1, len(steps)):
        if steps[i].startswith("get[") and steps[i - 1].startswith("search["):
            return i
    return None


def cut(record: dict) -> dict | None:
    """The record up to and including its pick turn (None without one)."""
    i = pick_turn(record["steps"])
    if i is None:
        return None
    n = i + 1
    r = dict(record, steps=record["steps"][:n], id=f"{record['id']}-pick")
    if "turns" in r:
        r["turns"] = r["turns"][:n]
    labels = dict(r["labels"], hard=r["labels"]["hard"][:n])
    if labels["first_error"] is not None and labels["first_error"] >= n:
        labels["first_error"] = -1
    r["labels"] = labels
    meta = dict(r.get("meta") or {})
    if "status" in meta:
        meta["status"] = meta["status"][:n]
    r["meta"] = meta
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="verify-labelled toolqa episodes (JSONL)")
    ap.add_argument("dst", help="where the cut episodes go")
    a = ap.parse_args()
    kept = dropped = 0
    with open(a.src) as f, open(a.dst, "w") as g:
        for line in f:
            r = cut(json.loads(line))
            if r is None:
                dropped += 1
                continue
            g.write(json.dumps(r) + "\n")
            kept += 1
    print(
        json.dumps({"benchmark": "toolqa_pick_cut", "out": a.dst, "kept": kept, "dropped": dropped})
    )


if __name__ == "__main__":
    main()
