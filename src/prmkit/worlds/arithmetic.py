"""The built-in arithmetic world: multi-step problems with an exact step verifier.

A problem is a start value and a chain of operations applied left to right:

    prompt:   "Start with 7, then +5, *3, -4."
    solution: ["7+5=12", "12*3=36", "36-4=32", "Answer: 32"]

One canonical step format, `A<op>B=C`, and a final step `Answer: N`. The verifier
walks the steps with the current value and the next pending operation. A step is

- ok:    it applies the next operation to the current value, with the right result;
- noop:  a true equation whose result is the current value (x*1=x, x+0=x, restating
         the previous step). It is correct but useless: room for RL reward hacking;
- error: anything else (wrong arithmetic, wrong operand, skipped operation, an answer
         before the chain is done or not equal to the value).

`grade` is the one grader: labeling, evaluation and RL reward all call it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from prmkit.worlds.base import AFTER, ERROR, NOOP, OK, Grade, same_text

NAME = "arithmetic"
TURNS = False
same_answer = same_text  # an integer is written one way
MAX_NEW_TOKENS = 96  # the policy tokens a sample gets by default (`prmkit sample`)
_STEP = re.compile(r"^\s*(-?\d+)\s*([+\-*])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")
_ANSWER = re.compile(r"^\s*Answer:\s*(-?\d+)\s*$")
_PROMPT = re.compile(r"^Start with (-?\d+), then (.*)\.$")
_OP = re.compile(r"^([+\-*])(\d+)$")


@dataclass
class Difficulty:
    """Knobs for generated problems."""

    min_ops: int = 2
    """fewest operations in a problem"""
    max_ops: int = 4
    """most operations in a problem"""
    max_operand: int = 5
    """operands are drawn from 1..max_operand"""
    max_start: int = 15
    """start values are drawn from 1..max_start"""
    max_value: int = 20
    """every intermediate value stays in 0..max_value"""
    operators: str = "+-*"
    """which operators may appear"""

    def check(self) -> None:
        if not 1 <= self.min_ops <= self.max_ops:
            raise ValueError(f"need 1 <= min_ops <= max_ops, got {self.min_ops}, {self.max_ops}")
        if self.max_operand < 1 or self.max_start < 1:
            raise ValueError("max_operand and max_start must be at least 1")
        if self.max_value < max(self.max_start, 2):
            raise ValueError("max_value must be at least max_start")
        if not self.operators or set(self.operators) - set("+-*"):
            raise ValueError(
                f"operators must be a non-empty subset of '+-*', got {self.operators!r}"
            )


def apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


def _draw_op(rng: random.Random, v: int, d: Difficulty) -> tuple[str, int] | None:
    for _ in range(100):
        op = rng.choice(d.operators)
        b = rng.randint(1, d.max_operand)
        if op == "*" and b == 1:
            continue  # a problem should never contain its own no-op
        if 0 <= apply(v, op, b) <= d.max_value:
            return op, b
    return None


def make_problem(rng: random.Random, d: Difficulty, pid: str) -> dict:
    """One problem; redrawn from a new start when the chain runs out of legal operations."""
    for _ in range(1000):
        start = rng.randint(1, d.max_start)
        n = rng.randint(d.min_ops, d.max_ops)
        v, ops = start, []
        for _ in range(n):
            drawn = _draw_op(rng, v, d)
            if drawn is None:
                break
            ops.append(drawn)
            v = apply(v, *drawn)
        if len(ops) == n:
            break
    else:
        raise ValueError(f"these difficulty settings admit no {d.min_ops}-operation problem: {d}")
    chain = ", ".join(f"{op}{b}" for op, b in ops)
    return {
        "id": pid,
        "prompt": f"Start with {start}, then {chain}.",
        "answer": str(v),
        "meta": {"world": NAME, "start": start, "ops": [[op, b] for op, b in ops]},
    }


def generate(n: int, seed: int = 0, difficulty: Difficulty | None = None) -> list[dict]:
    """n problems as plain dicts (Problem.from_dict reads them). Same seed, same problems."""
    d = difficulty or Difficulty()
    d.check()
    rng = random.Random(seed)
    return [make_problem(rng, d, f"arith-{seed}-{i}") for i in range(n)]


def parse_prompt(prompt: str) -> tuple[int, list[tuple[str, int]]]:
    m = _PROMPT.match(prompt.strip())
    if not m:
        raise ValueError(f"not an arithmetic-world prompt: {prompt!r}")
    ops = []
    for tok in m.group(2).split(","):
        mo = _OP.match(tok.strip())
        if not mo:
            raise ValueError(f"bad operation {tok.strip()!r} in prompt {prompt!r}")
        ops.append((mo.group(1), int(mo.group(2))))
    return int(m.group(1)), ops


def solve(prompt: str) -> list[str]:
    """The canonical correct solution."""
    v, ops = parse_prompt(prompt)
    steps = []
    for op, b in ops:
        c = apply(v, op, b)
        steps.append(f"{v}{op}{b}={c}")
        v = c
    return steps + [f"Answer: {v}"]


def extract_answer(steps: list[str]) -> str | None:
    if not steps:
        return None
    m = _ANSWER.match(steps[-1])
    return m.group(1) if m else None


# The verifier's names for what is wrong with a first wrong step (Grade.kind).
KINDS = {
    "early answer": "answers before every operation is applied",
    "wrong answer": "states an answer other than the computed value",
    "unreadable step": "a step that is not `a<op>b=c` or `Answer: n`",
    "arithmetic slip": "a<op>b=c with the wrong c",
    "wrong operand": "starts from a value other than the current one",
    "wrong operation": "applies an operation other than the next one",
    "extra operation": "applies an operation when none is left",
    "step after answer": "a step after the final answer",
    "no answer": "ends without stating an answer",
}


def _judge(
    step: str, v: int, ops: list[tuple[str, int]], j: int
) -> tuple[str, int, int, str | None, str | None]:
    """One step against the state (value v, next op j): (status, new v, new j, reason, kind)."""
    m = _ANSWER.match(step)
    if m:
        ans = int(m.group(1))
        if j < len(ops):
            why = f"answers before finishing ({len(ops) - j} operation(s) left)"
            return ERROR, v, j, why, "early answer"
        if ans != v:
            return ERROR, v, j, f"answer {ans} is not the computed value {v}", "wrong answer"
        return OK, v, j, None, None
    m = _STEP.match(step)
    if not m:
        return ERROR, v, j, f"cannot parse step {step!r}", "unreadable step"
    a, op, b, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    true_c = apply(a, op, b)
    if true_c != c:
        return ERROR, v, j, f"arithmetic: {a}{op}{b} is {true_c}, not {c}", "arithmetic slip"
    if j < len(ops) and a == v and (op, b) == ops[j]:
        return OK, c, j + 1, None, None
    if c == v:
        return NOOP, v, j, None, None
    if a != v:
        return ERROR, v, j, f"uses {a}, but the current value is {v}", "wrong operand"
    if j >= len(ops):
        return ERROR, v, j, "no operations are left to apply", "extra operation"
    why = f"applies {op}{b}, but the next operation is {ops[j][0]}{ops[j][1]}"
    return ERROR, v, j, why, "wrong operation"


def grade(prompt: str, reference: str, steps: list[str], partial: bool = False) -> Grade:
    """Exact grade of a solution: first wrong step and why, and final-answer correctness.

    partial: the steps are an unfinished prefix (search, early rejection), so a missing
    final answer is not an error.
    """
    v, ops = parse_prompt(prompt)
    j, status, first, reason, kind = 0, [], -1, None, None
    for i, step in enumerate(steps):
        if first >= 0:
            status.append(AFTER)
            continue
        if i > 0 and _ANSWER.match(steps[i - 1]):
            st, why, what = ERROR, "step after the final answer", "step after answer"
        else:
            st, v, j, why, what = _judge(step, v, ops, j)
        status.append(st)
        if st == ERROR:
            first, reason, kind = i, why, what
    final = extract_answer(steps)
    if first < 0 and final is None and steps and not partial:
        # Every step holds but the solution never states an answer (cut off): the last
        # step is where it went wrong, so correct <=> first_error == -1 always holds.
        first, reason, kind = len(steps) - 1, "ends without a final answer", "no answer"
        status[-1] = ERROR
    correct = first < 0 and final is not None and final.strip() == str(reference).strip()
    return Grade(correct, first, final, status, reason, kind)


def local_errors(prompt: str, steps: list[str]) -> list[str | None]:
    """Each step judged on its own: why it is wrong, or None, given what came before it.

    Unlike `grade`, which marks everything after the first error AFTER, this checker
    carries on from the values the solution itself states. After `7+5=13` it expects
    the next operation applied to 13, so correct work after a slip is judged correct.
    It is what a step verifier that reads one step at a time sees. A wrong step that
    parses still sets the running value and counts as the next operation, or the one
    after it when it skips one. An unfinished solution is judged as a prefix.
    """
    v, ops = parse_prompt(prompt)
    j, out = 0, []
    for i, step in enumerate(steps):
        if i > 0 and _ANSWER.match(steps[i - 1]):
            out.append("step after the final answer")
            continue
        st, nv, nj, why, _ = _judge(step, v, ops, j)
        out.append(why if st == ERROR else None)
        if st != ERROR:
            v, j = nv, nj
            continue
        m = _STEP.match(step)
        if m:
            op, b = m.group(2), int(m.group(3))
            skipped = j + 1 < len(ops) and (op, b) == ops[j + 1] and (op, b) != ops[j]
            v, j = int(m.group(4)), min(len(ops), j + (2 if skipped else 1))
    return out


MISTAKES = ("slip", "operand", "skip", "early")


def corrupt(prompt: str, rng: random.Random, kind: str | None = None) -> tuple[list[str], str]:
    """A plausible wrong solution with one mistake; returns (steps, mistake kind).

    slip: an arithmetic slip, then correct work from the wrong value (the error carries);
    operand: the next operation applied with a wrong operand; skip: one operation left
    out; early: the answer given before the chain is done.
    """
    v, ops = parse_prompt(prompt)
    kind = kind or rng.choice(MISTAKES)
    k = rng.randrange(len(ops))
    steps = []
    for i, (op, b) in enumerate(ops):
        if i == k:
            if kind == "early" and i > 0:
                break
            if kind == "skip" and len(ops) > 1:
                continue
            if kind == "operand":
                b = rng.choice([x for x in range(1, 10) if x != b])
        c = apply(v, op, b)
        if i == k and kind in ("slip", "early", "skip"):
            c += rng.choice([-10, -2, -1, 1, 2, 10])
        steps.append(f"{v}{op}{b}={c}")
        v = c
    return steps + [f"Answer: {v}"], kind


def add_noop(prompt: str, steps: list[str], rng: random.Random) -> list[str]:
    """Insert one correct-but-useless step (x*1=x, x+0=x or a restated step)."""
    k = rng.randrange(len(steps))  # insert before step k, so before the answer at the latest
    m = _STEP.match(steps[k - 1]) if k > 0 else None
    v = int(m.group(4)) if m else parse_prompt(prompt)[0]
    choices = [f"{v}*1={v}", f"{v}+0={v}"] + ([steps[k - 1]] if m else [])
    return steps[:k] + [rng.choice(choices)] + steps[k:]
