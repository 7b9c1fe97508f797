"""The knowledge base of the tool-use world and the tools that answer actions.

A knowledge base is a function of one integer seed: the same seed gives the same
people, companies and cities, the same facts and the same look-alike names. Every
entity has every relation and the attribute of its kind, so a chain of relations from
any entity is defined. About half the entities have a twin whose name differs in one
letter (a distractor for `search`).

Tools, written `tool[argument]` (the environment's observation follows in brackets):

- search[name]: entities whose name is within two letters of `name`, in id order;
- get[id, relation]: the entity or value that `relation` gives for entity `id`;
- calc[expression]: integer arithmetic with + - * and parentheses;
- answer[value]: submits the final answer and ends the episode.

An unknown tool or a malformed action gets an observation that says so, never an
exception.
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

KINDS = {"P": "person", "C": "company", "L": "city"}
RELATIONS = {
    "P": {"employer": "C", "home": "L"},
    "C": {"ceo": "P", "hq": "L"},
    "L": {"mayor": "P"},
}
ATTRIBUTES = {"P": ("age", 20, 79), "C": ("year", 1900, 2019), "L": ("population", 10, 999)}
COUNTS = {"P": 14, "C": 8, "L": 6}
TWIN_RATE = 0.6
TOOLS = ("search", "get", "calc", "answer")
OBS_ANSWER = "done"
_ACTION = re.compile(r"^\s*([A-Za-z_]\w*)\s*\[(.*)\]\s*$")
_CONS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_SUFFIX = {"C": [" Labs", " Works", " Corp"], "P": [""], "L": [""]}


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    kind: str  # P, C or L
    facts: tuple[tuple[str, str | int], ...]  # (relation or attribute, id or value)

    def fact(self, key: str) -> str | int | None:
        return dict(self.facts).get(key)


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_CONS) + rng.choice(_VOWELS) for _ in range(syllables)).title()


def _name(rng: random.Random, kind: str) -> str:
    if kind == "P":
        return f"{_word(rng, 2)} {_word(rng, 2)}"
    return _word(rng, 3) + rng.choice(_SUFFIX[kind])


def _twin_name(rng: random.Random, name: str) -> str:
    """The same name with one vowel changed: a look-alike."""
    spots = [i for i, ch in enumerate(name) if ch in _VOWELS]
    i = rng.choice(spots)
    return name[:i] + rng.choice([v for v in _VOWELS if v != name[i]]) + name[i + 1 :]


@lru_cache(maxsize=256)
def build(seed: int) -> dict[str, Entity]:
    """The knowledge base for `seed`: entity id -> Entity."""
    rng = random.Random(f"toolqa-kb-{seed}")
    names: dict[str, list[str]] = {k: [] for k in KINDS}
    used: set[str] = set()
    for kind, n in COUNTS.items():
        while len(names[kind]) < n:
            base = _name(rng, kind)
            if base in used:
                continue
            used.add(base)
            names[kind].append(base)
            if rng.random() < TWIN_RATE and len(names[kind]) < n:
                twin = _twin_name(rng, base)
                if twin not in used:
                    used.add(twin)
                    names[kind].append(twin)
    ids = {k: [f"{k}{i}" for i in rng.sample(range(10, 100), len(v))] for k, v in names.items()}
    kb = {}
    for kind in KINDS:
        attr, lo, hi = ATTRIBUTES[kind]
        for eid, name in zip(ids[kind], names[kind]):
            facts = [(rel, rng.choice(ids[target])) for rel, target in RELATIONS[kind].items()]
            facts.append((attr, rng.randint(lo, hi)))
            kb[eid] = Entity(eid, name, kind, tuple(facts))
    return kb


def twins(kb: dict[str, Entity], eid: str) -> list[str]:
    """Ids of the other entities that `search` returns for this entity's exact name."""
    return [e.id for e in search(kb, kb[eid].name) if e.id != eid]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _close(a: str, b: str) -> bool:
    """Edit distance at most 2; a cheap letter-count test first (each edit moves it by 1)."""
    if abs(len(a) - len(b)) > 2:
        return False
    ca, cb = Counter(a), Counter(b)
    if sum((ca - cb).values()) > 2 or sum((cb - ca).values()) > 2:
        return False
    return _distance(a, b) <= 2


def search(kb: dict[str, Entity], query: str) -> list[Entity]:
    q = query.strip().lower()
    hits = [e for e in kb.values() if _close(q, e.name.lower())]
    return sorted(hits, key=lambda e: e.id)[:4]


def parse_action(text: str) -> tuple[str, list[str]] | None:
    """`tool[a, b]` -> ("tool", ["a", "b"]); None when it is not of that shape."""
    m = _ACTION.match(text)
    if not m:
        return None
    tool, arg = m.group(1).lower(), m.group(2)
    args = [a.strip() for a in arg.split(",")] if tool == "get" else [arg.strip()]
    return tool, args


def calc(expression: str) -> int:
    """Integer arithmetic: + - * and parentheses. Raises ValueError otherwise."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expression!r}") from None

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            if abs(a) > 10**9 or abs(b) > 10**9:
                raise ValueError("numbers too large")
            return (
                a + b
                if isinstance(node.op, ast.Add)
                else a - b
                if isinstance(node.op, ast.Sub)
                else a * b
            )
        raise ValueError(f"only integers, + - * and parentheses: {expression!r}")

    return ev(tree.body)


def _clean(text: str) -> str:
    """Echoed user text, kept on one line and free of the turn separator."""
    return text.replace("\n", " ").replace("=>", "=")[:40]


def observe(kb: dict[str, Entity], action: str) -> tuple[str, bool]:
    """The environment's answer to one action, and whether the episode ends."""
    parsed = parse_action(action)
    if parsed is None:
        return f"error: malformed action {_clean(action)!r}; write tool[argument]", False
    tool, args = parsed
    if tool not in TOOLS:
        return f"error: unknown tool {_clean(tool)!r}; tools are {', '.join(TOOLS)}", False
    if tool == "answer":
        return OBS_ANSWER, True
    if tool == "search":
        hits = search(kb, args[0])
        return ("; ".join(f"{e.id} {e.name}" for e in hits) or "no match"), False
    if tool == "calc":
        try:
            return str(calc(args[0])), False
        except (ValueError, RecursionError) as e:
            return f"error: {_clean(str(e))}", False
    if len(args) != 2:
        return "error: get takes an id and a relation, get[id, relation]", False
    eid, rel = args
    if eid not in kb:
        return f"error: no entity {_clean(eid)!r}; ids come from search", False
    e = kb[eid]
    value = e.fact(rel)
    if value is None:
        keys = ", ".join(k for k, _ in e.facts)
        return f"error: {eid} has no {_clean(rel)!r}; it has {keys}", False
    if isinstance(value, str):
        return f"{value} {kb[value].name}", False
    return str(value), False


def environment_of(seed: int):
    """The environment of knowledge base `seed`: action -> (observation, episode over)."""
    kb = build(seed)
    return lambda action: observe(kb, action)
