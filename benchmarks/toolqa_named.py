"""Rewrite toolqa episodes so that each `get` names the entity it takes: `get[L44 Defufi, mayor]`.

The test of docs/agents.md ("The look-alike pick") of whether a turn PRM fails on
look-alike picks because of what the check needs or because of how the episode reads.
To see that `get[L44, mayor]` after the search `L29 Defefi; L44 Defufi` takes the
look-alike of "Defefi", a PRM must find L44 in the observation, read the name after it,
and compare that with the question's name: three hops learned from one bit per turn.
This rewrite writes the name an id had in an earlier observation next to the id in the
action, so the comparison is between the question and the action only. Nothing is
added that the episode does not hold: the name is copied from an observation the PRM
already reads. Labels, observations and everything else are kept; `steps` and `turns`
are rewritten alike, so the files train and score as before (`prmkit prm train`,
`prmkit score`, `benchmarks/turn_prm_errors.py`, whose pick test reads the id only).

    python benchmarks/toolqa_named.py made_exact.jsonl made_named.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from prmkit.data import InputError, read_jsonl, write_jsonl

ENTITY = re.compile(r"\b([A-Z]\d+) ([A-Z][a-z]+(?: [A-Z][a-z]+)*)")
GET = re.compile(r"^get\[(\w+)\s*,")


def names_seen(observation: str, names: dict[str, str]) -> None:
    """Add every `ID Name` an observation lists to names (a later listing wins)."""
    for part in observation.split(";"):
        m = ENTITY.search(part.strip())
        if m:
            names[m.group(1)] = m.group(2)


def named_action(action: str, names: dict[str, str]) -> str:
    """`get[ID, rel]` as `get[ID Name, rel]` when ID was listed before; else unchanged."""
    m = GET.match(action)
    if not m or m.group(1) not in names:
        return action
    return f"get[{m.group(1)} {names[m.group(1)]}," + action[m.end() :]


def rewrite(record: dict) -> dict:
    """The record with every `get` action naming its entity, in turns and steps."""
    names: dict[str, str] = {}
    turns, steps = [], list(record["steps"])
    for i, turn in enumerate(record["turns"]):
        action = named_action(turn["action"], names)
        turns.append({**turn, "action": action})
        if i < len(steps) and steps[i].startswith(turn["action"]):
            steps[i] = action + steps[i][len(turn["action"]) :]
        names_seen(turn["observation"], names)
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
