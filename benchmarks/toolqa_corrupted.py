"""Expert tool-use episodes with one controlled mistake, weighted towards look-alike picks.

Writes samples for `prmkit label --method verify` (exact turn labels, no policy): for
each of --n episodes, a question drawn from --problems, then with probability
--right the expert's shortest solution (`toolqa.solve`), with probability --twin a
first `get` on the look-alike of the question's entity that its search listed (the
agent's commonest first error; the rest of the chain follows from there; a question
whose search lists no look-alike gets another mistake), and otherwise one mistake of
any kind (`toolqa.corrupt`:
wrong entity, wrong relation, calculation slip, early answer). With probability --slip
(0 by default) a question with arithmetic gets the expert's chain with a wrong `calc`
of one of the kinds the agent makes (`agent_slip`): another operator, an operand far
from the question's, or the looked-up value copied wrong; `corrupt`'s own slips only
move the operand by 1 or 2. A question without arithmetic drawn for a slip gets a
look-alike pick instead (or another mistake), whatever --twin is. It is the data of the
test in docs/agents.md of whether a turn PRM can learn to tell a look-alike pick from
the right one when it is shown thousands of them with exact labels.

    python benchmarks/toolqa_corrupted.py --problems train.jsonl --n 6000 --seed 1 --out syn.jsonl
    prmkit label --method verify --in syn.jsonl --out syn_exact.jsonl --world toolqa
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter

from prmkit.data import InputError, read_jsonl, write_jsonl
from prmkit.worlds.toolqa.kb import parse_action
from prmkit.worlds.toolqa.task import (
    apply,
    corrupt,
    is_prompt,
    parse_prompt,
    solve,
    split_turn,
    turn,
)

SLIPS = ("operator", "operand", "copied value")
"""the kinds of the agent's calculation slips on its held-out episodes (docs/agents.md):
calc[70*4] for "minus 2", calc[1978-4] for "minus 20", calc[73+2] after "age => 70".
"""


def first_get_id(steps: list[str]) -> str | None:
    """The id the second turn's `get` takes, or None when it is not a get."""
    parsed = parse_action(split_turn(steps[1])[0]) if len(steps) > 1 else None
    return parsed[1][0] if parsed and parsed[0] == "get" else None


def twin_pick(prompt: str, rng: random.Random, tries: int = 50) -> list[str] | None:
    """A corrupted episode whose first get takes the other id its search listed (the
    look-alike of the question's entity); None when `corrupt` draws none in `tries`."""
    right = parse_prompt(prompt).path[0]  # the question's entity: the expert's first get
    for _ in range(tries):
        steps, _ = corrupt(prompt, rng, "entity")
        listed = re.findall(r"\b([A-Z]\d+)\b", steps[0].split(" => ", 1)[-1])
        picked = first_get_id(steps)
        if picked in listed and picked != right:
            return steps
    return None


def agent_slip(prompt: str, rng: random.Random) -> tuple[list[str], str] | None:
    """The expert's chain with its `calc` gone wrong in one of SLIPS, and the answer
    that follows from it; None for a question without arithmetic."""
    task = parse_prompt(prompt)
    if not task.op:
        return None
    kb, steps = task.knowledge(), solve(prompt)
    value, op, operand = task.value, task.op, task.operand
    kind = rng.choice(SLIPS)
    if kind == "operator":
        op = rng.choice([o for o in "+-*" if o != op])
    elif kind == "operand":
        operand = rng.choice([n for n in range(1, 21) if abs(n - operand) > 2])
    else:
        value = rng.choice([value + d for d in (-10, -3, -1, 1, 3, 10) if value + d > 0])
    calc = turn(kb, f"calc[{value}{op}{operand}]")
    return steps[:-2] + [calc, turn(kb, f"answer[{apply(value, op, operand)}]")], kind


def question(record: dict) -> dict:
    """A toolqa question of `world generate`; ValueError for anything else."""
    if not isinstance(record, dict) or not is_prompt(str(record.get("prompt", ""))):
        raise ValueError("not a toolqa question (prmkit world generate --world toolqa)")
    if "answer" not in record:
        raise ValueError("a toolqa question without its answer")
    return record


def episode(
    problem: dict, rng: random.Random, right: float, twin: float, slip: float = 0.0
) -> tuple[dict, str]:
    """One sample record (prompt, reference, steps, turns) and what was done to it."""
    prompt, u = problem["prompt"], rng.random()
    if u < right:
        steps, kind = solve(prompt), "right"
    elif u < right + slip and (slipped := agent_slip(prompt, rng)) is not None:
        steps, kind = slipped[0], f"slip: {slipped[1]}"
    elif u < right + slip + twin and (picked := twin_pick(prompt, rng)) is not None:
        steps, kind = picked, "look-alike pick"
    else:
        steps, kind = corrupt(prompt, rng)
    turns = [dict(zip(("action", "observation"), split_turn(s))) for s in steps]
    record = {
        "prompt": prompt,
        "reference": problem["answer"],
        "steps": steps,
        "turns": turns,
        "meta": {"world": "toolqa", "made": kind},
    }
    return record, kind


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--problems", required=True, help="toolqa questions (world generate)")
    ap.add_argument("--n", type=int, default=6000, help="episodes to write")
    ap.add_argument("--right", type=float, default=0.3, help="share of expert episodes")
    ap.add_argument("--twin", type=float, default=0.45, help="share of look-alike picks")
    ap.add_argument(
        "--slip",
        type=float,
        default=0.0,
        help="share of the agent's kinds of calculation slip; a question without arithmetic "
        "gets a look-alike pick instead",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:  # a line that is not JSON or not a toolqa question: FILE:LINE, exit 2
        problems = read_jsonl(a.problems, question)
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    rng, made, records = random.Random(a.seed), Counter(), []
    for i in range(a.n):
        p = problems[rng.randrange(len(problems))]
        record, kind = episode(p, rng, a.right, a.twin, a.slip)
        made[kind] += 1
        records.append({"id": f"corrupted-{i}", "problem_id": p.get("id", str(i))} | record)
    write_jsonl(a.out, records)
    print(json.dumps({"benchmark": "toolqa_corrupted", "out": a.out, "episodes": a.n} | made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
