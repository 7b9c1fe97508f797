"""Toolqa episodes cut after the entity pick: the question, the search, the first get.

Input: episodes labelled by `prmkit label --world toolqa` (`--method verify` or mc;
made ones, `toolqa_corrupted.py`, or sampled). Each episode whose first `get` directly
follows a `search` keeps its turns up to that `get`; labels (hard and, for mc, soft),
turns and statuses are cut with it (a first error after the cut becomes -1: the kept
turns are right). Episodes without such a pick are dropped. What is left isolates the
look-alike pick: a PRM trained on it has nothing else to learn but wrong relations
(docs/agents.md).

    python benchmarks/toolqa_pick_cut.py made_exact.jsonl picks.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys

from prmkit.data import InputError, read_jsonl, write_jsonl


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
    if isinstance(labels.get("soft"), list):  # mc labels carry per-turn success rates too
        labels["soft"] = labels["soft"][:n]
    if labels["first_error"] is not None and labels["first_error"] >= n:
        labels["first_error"] = -1
    r["labels"] = labels
    meta = dict(r.get("meta") or {})
    if "status" in meta:
        meta["status"] = meta["status"][:n]
    r["meta"] = meta
    return r


def checked_cut(record: dict) -> dict | None:
    """`cut(record)`; ValueError for a record that is not a verify-labelled episode."""
    if not isinstance(record, dict) or not isinstance(record.get("steps"), list):
        raise ValueError("no steps: not a toolqa episode")
    labels = record.get("labels")
    if not isinstance(labels, dict) or not isinstance(labels.get("hard"), list):
        raise ValueError("no labels.hard: label it first (prmkit label --method verify)")
    if "id" not in record or "first_error" not in labels:
        raise ValueError("no id or labels.first_error: not prmkit label output")
    return cut(record)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="verify-labelled toolqa episodes (JSONL)")
    ap.add_argument("dst", help="where the cut episodes go")
    a = ap.parse_args()
    try:  # a line that is not JSON, or not a labelled episode: FILE:LINE, exit 2
        cuts = read_jsonl(a.src, checked_cut)
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    kept = write_jsonl(a.dst, (c for c in cuts if c is not None))
    summary = {"benchmark": "toolqa_pick_cut", "out": a.dst, "kept": kept}
    print(json.dumps(summary | {"dropped": len(cuts) - kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
