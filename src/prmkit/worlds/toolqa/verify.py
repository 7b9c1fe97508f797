"""The exact turn-level verifier of the tool-use world.

The state is how far along the shortest solution the trajectory has come (the next
required call). A turn is

- ok:    the next call of the shortest solution from that state (a calculation may be
         written any way that gives the right number);
- noop:  a redundant but harmless lookup: a search or get already made, a search for
         an entity already reached, a calculation already done;
- error: anything else: a wrong entity (a look-alike's id, an id off the chain), a
         wrong relation, a calculation slip, an answer before the chain is done or a
         wrong answer, an unknown tool, a malformed action.

Only the action is judged; the observation after ` => ` is context.
"""

from __future__ import annotations

from prmkit.worlds.base import AFTER, ERROR, NOOP, OK, Grade
from prmkit.worlds.toolqa import kb as K
from prmkit.worlds.toolqa.task import Task, parse_prompt, split_turn


def _answer_of(action: str) -> str | None:
    parsed = K.parse_action(action)
    return parsed[1][0] if parsed and parsed[0] == "answer" else None


def extract_answer(steps: list[str]) -> str | None:
    return _answer_of(split_turn(steps[-1])[0]) if steps else None


def _same_number(a: str, b: int) -> bool:
    try:
        return int(a.strip()) == b
    except ValueError:
        return False


def _judge_get(task: Task, j: int, args: list[str]) -> tuple[str, str | None]:
    if len(args) != 2:
        return ERROR, "get needs an id and a relation"
    eid, key = args
    keys = list(task.relations) + [task.attribute]
    done = min(max(j - 1, 0), len(keys))  # gets already made
    if j > 0 and done < len(keys) and (eid, key) == (task.path[done], keys[done]):
        return OK, None
    if any((eid, key) == (task.path[h], keys[h]) for h in range(done)):
        return NOOP, None
    if j == 0:
        return ERROR, f"wrong entity: {eid} before searching {task.start!r}"
    if done == len(keys):
        return ERROR, "the chain is done; the lookup is not needed"
    if eid != task.path[done]:
        return ERROR, f"wrong entity: {eid} instead of {task.path[done]}"
    if key != keys[done]:
        return ERROR, f"wrong relation: {key!r} instead of {keys[done]!r}"
    return OK, None


def judge(task: Task, j: int, action: str) -> tuple[str, str | None]:
    """One action at state j (index of the next required call): (status, reason)."""
    req = task.required()
    parsed = K.parse_action(action)
    if parsed is None:
        return ERROR, f"malformed action {action!r}"
    tool, args = parsed
    if tool not in K.TOOLS:
        return ERROR, f"unknown tool {tool!r}"
    if tool == "answer":
        if j < len(req) - 1:
            return ERROR, f"answers early ({len(req) - 1 - j} call(s) left)"
        if not _same_number(args[0], task.target):
            return ERROR, f"answer {args[0]!r} is not {task.target}"
        return OK, None
    if tool == "search":
        if j == 0 and args[0] == task.start:
            return OK, None
        kb = task.knowledge()
        reached = {kb[e].name for e in task.path[: max(j - 1, 0) + (j > 0)]}
        if j > 0 and args[0] in reached:
            return NOOP, None
        return ERROR, f"wrong entity: searches {args[0]!r}"
    if tool == "get":
        return _judge_get(task, j, args)
    try:
        result = K.calc(args[0])
    except (ValueError, RecursionError):
        return ERROR, f"calculation {args[0]!r} does not evaluate"
    if task.op and j == len(req) - 2:
        return (
            (OK, None)
            if result == task.target
            else (
                ERROR,
                f"calculation slip: {args[0]} = {result}, not {task.target}",
            )
        )
    if task.op and j == len(req) - 1 and result == task.target:
        return NOOP, None
    if task.op and j < len(req) - 2:
        return ERROR, "calculates before the value is known"
    return ERROR, "no calculation is needed"


def grade(prompt: str, reference: str, steps: list[str], partial: bool = False) -> Grade:
    """Exact grade of a trajectory (steps are turns): first wrong turn and why.

    partial: the turns are an unfinished prefix, so a missing answer is not an error.
    """
    task = parse_prompt(prompt)
    j, status, first, reason, answered = 0, [], -1, None, False
    for i, step in enumerate(steps):
        if first >= 0:
            status.append(AFTER)
            continue
        action = split_turn(step)[0]
        if answered:
            st, why = ERROR, "turn after the final answer"
        else:
            st, why = judge(task, j, action)
            j += st == OK
            answered = st == OK and _answer_of(action) is not None
        status.append(st)
        if st == ERROR:
            first, reason = i, why
    final = extract_answer(steps)
    if first < 0 and not answered and steps and not partial:
        first, reason = len(steps) - 1, "ends without a final answer"
        status[-1] = ERROR
    correct = first < 0 and final is not None and final.strip() == str(reference).strip()
    return Grade(
        correct=correct, first_error=first, final_answer=final, status=status, reason=reason
    )


def local_errors(prompt: str, steps: list[str]) -> list[str | None]:
    """Each turn judged on its own, given the state the turns before it reached.

    Unlike `grade`, turns after a wrong one are still judged (from the state of the
    correct turns so far): what a verifier that reads one turn at a time sees.
    """
    task = parse_prompt(prompt)
    j, out, answered = 0, [], False
    for step in steps:
        if answered:
            out.append("turn after the final answer")
            continue
        action = split_turn(step)[0]
        st, why = judge(task, j, action)
        out.append(why if st == ERROR else None)
        j += st == OK
        answered = answered or (_answer_of(action) is not None and st != NOOP)
    return out
