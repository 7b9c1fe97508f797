"""Write toolqa episodes as a `--render toolqa-named` PRM reads them: `get[L44 Defufi, mayor]`.

A PRM trained with `prmkit prm train --render toolqa-named` reads every episode through
`prmkit.worlds.toolqa.named_steps` (each `get` with the name an earlier observation
listed for its id) in training and wherever it scores, so it needs no rewritten file.
This script writes that view to a file, to read it, or for tools that read files: labels,
observations and everything else are kept; `steps` and `turns` are rewritten alike.
docs/agents.md ("A PRM that learns the look-alike pick") says why the view helps.

    python benchmarks/toolqa_named.py made_exact.jsonl made_named.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys

from prmkit.data import InputError, read_jsonl, write_jsonl
from prmkit.worlds.toolqa import named_steps, split_turn


def rewrite(record: dict) -> dict:
    """The record with every `get` action naming its entity, in turns and steps
    (`prmkit.worlds.toolqa.named_steps`, the view a `--render toolqa-named` PRM reads)."""
    steps = named_steps(list(record["steps"]))
    turns = [{**t, "action": split_turn(s)[0]} for t, s in zip(record["turns"], steps)]
    return {**record, "turns": turns, "steps": steps}


def rewritten(record: dict) -> tuple[dict, dict]:
    """(the record, its rewrite); ValueError for a record that is not a toolqa episode."""
    if not isinstance(record, dict) or not isinstance(record.get("turns"), list):
        raise ValueError("no turns: not a toolqa episode (sample or label output)")
    if not isinstance(record.get("steps"), list):
        raise ValueError("no steps: not a toolqa episode (sample or label output)")
    return record, rewrite(record)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("src", help="toolqa episodes (JSONL with turns)")
    ap.add_argument("dst", help="where to write the rewritten episodes")
    a = ap.parse_args()
    try:  # a line that is not JSON, or a record without turns: FILE:LINE, exit 2
        pairs = read_jsonl(a.src, rewritten)
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    write_jsonl(a.dst, (new for _, new in pairs))
    changed = sum(new["steps"] != old["steps"] for old, new in pairs)
    summary = {"benchmark": "toolqa_named", "out": a.dst, "episodes": len(pairs)}
    print(json.dumps(summary | {"rewritten": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
