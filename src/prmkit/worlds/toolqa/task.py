"""Tool-use questions: generation, prompt parsing, expert trajectories and mistakes.

A question names an entity, a chain of relations and an attribute, optionally with a
last calculation:

    kb 12. From Mara Quill follow employer, hq; give the population plus 7.

`kb 12x4.` asks over knowledge base 12 at scale 4 (four times the entities; `kb.build`).

The shortest solution searches the name, follows each relation with `get`, gets the
attribute, calculates if asked, and answers: hops + 2 tool calls (+1 with a
calculation), where hops counts the `get` calls. A turn is one line,
`action => observation`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from prmkit.worlds.toolqa import kb as K

NAME = "toolqa"
TURNS = True
TURN_SEP = " => "
_PROMPT = re.compile(
    r"^kb (\d+)(?:x(\d+))?\. From ([A-Za-z ]+?)(?: follow ([a-z, ]+);)? give the ([a-z]+)"
    r"(?: (plus|minus|times) (\d+))?\.$"
)
_OPS = {"plus": "+", "minus": "-", "times": "*"}


@dataclass
class Difficulty:
    """Knobs for generated questions."""

    min_hops: int = 2
    """fewest `get` calls per question (tool calls = hops + 2, +1 with a calculation)"""
    max_hops: int = 4
    """most `get` calls per question (at most 5)"""
    calc_rate: float = 0.5
    """fraction of questions that end with a calculation"""
    kb_scale: int = 1
    """knowledge-base size: scale s holds s times 14 people, 8 companies and 6 cities
    (1..6); chains of relations meet about s times less often"""

    def check(self) -> None:
        if not 1 <= self.min_hops <= self.max_hops <= 5:
            raise ValueError(
                f"need 1 <= min_hops <= max_hops <= 5, got {self.min_hops}, {self.max_hops}"
            )
        if not 0 <= self.calc_rate <= 1:
            raise ValueError(f"calc_rate must lie in [0, 1], got {self.calc_rate}")
        if not 1 <= self.kb_scale <= K.MAX_SCALE:
            raise ValueError(f"kb_scale must lie in 1..{K.MAX_SCALE}, got {self.kb_scale}")


@dataclass(frozen=True)
class Task:
    """A parsed question with its solution path."""

    kb_seed: int
    kb_scale: int
    start: str  # the name in the question
    relations: tuple[str, ...]
    attribute: str
    op: str | None  # + - * or None
    operand: int
    path: tuple[str, ...]  # entity ids e0..e_{hops-1}
    value: int  # the attribute's value
    target: int  # the answer

    @property
    def hops(self) -> int:
        return len(self.relations) + 1

    def knowledge(self) -> dict[str, K.Entity]:
        """The knowledge base the question is asked over."""
        return K.build(self.kb_seed, self.kb_scale)

    def required(self) -> list[tuple[str, tuple[str, ...]]]:
        """The shortest solution's actions as (tool, args), in order."""
        acts = [("search", (self.start,))]
        keys = list(self.relations) + [self.attribute]
        acts += [("get", (eid, key)) for eid, key in zip(self.path, keys)]
        if self.op:
            acts.append(("calc", (f"{self.value}{self.op}{self.operand}",)))
        return acts + [("answer", (str(self.target),))]


def apply(a: int, op: str | None, b: int) -> int:
    return a if op is None else a + b if op == "+" else a - b if op == "-" else a * b


def is_prompt(prompt: str) -> bool:
    """Whether the text has the shape of a tool-use question (no knowledge base built)."""
    return _PROMPT.match(prompt.strip()) is not None


def kb_name(seed: int, scale: int) -> str:
    """How a prompt names knowledge base `seed` at `scale`: `12`, or `12x4` above scale 1."""
    return f"{seed}x{scale}" if scale > 1 else str(seed)


def parse_prompt(prompt: str) -> Task:
    """The task behind a question; ValueError if it is not a tool-use world question."""
    m = _PROMPT.match(prompt.strip())
    if not m:
        raise ValueError(f"not a toolqa-world prompt: {prompt!r}")
    seed, scale, start = int(m.group(1)), int(m.group(2) or 1), m.group(3)
    rels = tuple(r.strip() for r in m.group(4).split(",")) if m.group(4) else ()
    kb = K.build(seed, scale)
    exact = [e for e in K.search(kb, start) if e.name == start]
    if not exact:
        raise ValueError(f"no entity named {start!r} in kb {kb_name(seed, scale)}")
    path = [exact[0].id]
    for rel in rels:
        nxt = kb[path[-1]].fact(rel)
        if not isinstance(nxt, str):
            raise ValueError(f"{kb[path[-1]].name} has no relation {rel!r}")
        path.append(nxt)
    attribute = m.group(5)
    value = kb[path[-1]].fact(attribute)
    if not isinstance(value, int):
        raise ValueError(f"{kb[path[-1]].name} has no attribute {attribute!r}")
    op = _OPS[m.group(6)] if m.group(6) else None
    operand = int(m.group(7) or 0)
    target = apply(value, op, operand)
    return Task(seed, scale, start, rels, attribute, op, operand, tuple(path), value, target)


def make_problem(rng: random.Random, d: Difficulty, pid: str, kb_seed: int) -> dict:
    """One question over knowledge base `kb_seed`; its start name always has a look-alike."""
    kb = K.build(kb_seed, d.kb_scale)
    starts = K.with_lookalikes(kb)
    first = rng.choice(starts or sorted(kb.values(), key=lambda x: x.id))
    e, rels = first, []
    for _ in range(rng.randint(d.min_hops, d.max_hops) - 1):
        rels.append(rng.choice(sorted(K.RELATIONS[e.kind])))
        e = kb[e.fact(rels[-1])]
    follow = f" follow {', '.join(rels)};" if rels else ""
    calc = ""
    if rng.random() < d.calc_rate:
        word = rng.choice(sorted(_OPS))
        calc = f" {word} {rng.randint(2, 5) if word == 'times' else rng.randint(1, 20)}"
    prompt = f"kb {kb_name(kb_seed, d.kb_scale)}. From {first.name}{follow} give the {K.ATTRIBUTES[e.kind][0]}{calc}."
    task = parse_prompt(prompt)
    calls = len(task.required())
    return {
        "id": pid,
        "prompt": prompt,
        "answer": str(task.target),
        "meta": {"world": NAME, "kb": kb_seed, "hops": task.hops, "calls": calls}
        | ({"kb_scale": d.kb_scale} if d.kb_scale > 1 else {}),
    }


def generate(n: int, seed: int = 0, difficulty: Difficulty | None = None) -> list[dict]:
    """n questions as plain dicts, each over its own knowledge base. Same seed, same world."""
    d = difficulty or Difficulty()
    d.check()
    rng = random.Random(f"toolqa-{seed}")
    return [make_problem(rng, d, f"toolqa-{seed}-{i}", rng.randrange(100_000)) for i in range(n)]


def format_action(tool: str, args: tuple[str, ...] | list[str]) -> str:
    return f"{tool}[{', '.join(args)}]"


def turn(kb: dict, action: str) -> str:
    """One turn's text: the action and the environment's observation."""
    return action + TURN_SEP + K.observe(kb, action)[0]


def split_turn(step: str) -> tuple[str, str | None]:
    """A turn's text -> (action, observation); observation None when there is none."""
    i = step.rfind(TURN_SEP)
    return (step, None) if i < 0 else (step[:i], step[i + len(TURN_SEP) :])


def solve(prompt: str) -> list[str]:
    """The expert trajectory: the shortest solution, as turns."""
    task = parse_prompt(prompt)
    kb = task.knowledge()
    return [turn(kb, format_action(t, a)) for t, a in task.required()]


MISTAKES = ("entity", "relation", "slip", "early")


def _wrong_id(rng: random.Random, kb: dict, task: Task, k: int) -> str:
    right = task.path[k]
    pool = K.twins(kb, right) if k == 0 else []
    pool = pool or [e for e in kb if e[0] == right[0] and e != right]
    return rng.choice(sorted(pool))


def corrupt(prompt: str, rng: random.Random, kind: str | None = None) -> tuple[list[str], str]:
    """A plausible wrong trajectory with one mistake; returns (turns, mistake kind).

    entity: a `get` on the wrong id (the look-alike from the search, or another entity
    of the same kind), then the rest of the chain from there; relation: a wrong
    relation at one hop, then the rest of the chain where it applies; slip: a wrong
    number in the calculation (or in the answer when there is none); early: an answer
    (the last number seen, or a guess) before the chain is done.
    """
    task = parse_prompt(prompt)
    kb = task.knowledge()
    kind = kind or rng.choice(MISTAKES)
    keys = list(task.relations) + [task.attribute]
    k = rng.randrange(len(keys))  # the hop that goes wrong
    steps = [turn(kb, format_action(*task.required()[0]))]
    cur, value = task.path[0], None
    for h, key in enumerate(keys):
        if kind == "early" and h == k:
            guess = value if value is not None else rng.randint(20, 99)
            return steps + [turn(kb, f"answer[{guess}]")], kind
        if kind == "entity" and h == k:
            cur = _wrong_id(rng, kb, task, h)
        if kind == "relation" and h == k:
            made = set(zip(task.path[:h], keys[:h]))  # a repeat would be a harmless no-op
            wrong = [r for r, _ in kb[cur].facts if r != key and (cur, r) not in made]
            key = rng.choice(wrong) if wrong else "name"
        steps.append(turn(kb, f"get[{cur}, {key}]"))
        v = kb[cur].fact(key)
        if isinstance(v, str):
            cur = v
        elif isinstance(v, int):
            value = v
        if v is None or (isinstance(v, int) and h < len(keys) - 1):
            break  # the chain no longer applies (after a wrong relation)
    result = value if value is not None else rng.randint(20, 99)
    if task.op:
        operand = task.operand + (rng.choice([-2, -1, 1, 2]) if kind == "slip" else 0)
        steps.append(turn(kb, f"calc[{result}{task.op}{operand}]"))
        result = apply(result, task.op, operand)
    elif kind == "slip":
        result += rng.choice([-10, -2, -1, 1, 2, 10])
    return steps + [turn(kb, f"answer[{result}]")], kind


def add_noop(prompt: str, steps: list[str], rng: random.Random) -> list[str]:
    """Insert one redundant but harmless lookup: a repeated earlier search or get."""
    k = rng.randrange(1, len(steps))  # after the first call, before the answer at the latest
    return steps[:k] + [steps[rng.randrange(k)]] + steps[k:]
