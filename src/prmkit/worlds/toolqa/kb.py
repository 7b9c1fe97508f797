"""The knowledge base of the tool-use world and the tools that answer actions.

A knowledge base is a function of an integer seed and a scale: the same seed and scale
give the same people, companies and cities, the same facts and the same look-alike
names. Scale 1 holds 14 people, 8 companies and 6 cities; scale s holds s times as many
(at most 6, since ids are two digits). Every entity has every relation and the
attribute of its kind, so a chain of relations from any entity is defined. About half
the entities have a twin whose name differs in one letter (a distractor for `search`).
In a small knowledge base two chains of relations often meet (a twin's employer is the
right person's employer one time in eight at scale 1), so a wrong pick can still reach
the right answer; at scale s they meet about s times less often.

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
"""entities of each kind at scale 1"""
MAX_SCALE = 6  # 6 x 14 people (and their twins' ids) fit the 90 two-digit ids
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
def build(seed: int, scale: int = 1) -> dict[str, Entity]:
    """The knowledge base for `seed` at `scale` (1..MAX_SCALE): entity id -> Entity.

    Scale 1 is the knowledge base this world has always built for `seed`."""
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"knowledge-base scale must lie in 1..{MAX_SCALE}, got {scale}")
    rng = random.Random(f"toolqa-kb-{seed}")
    names: dict[str, list[str]] = {k: [] for k in KINDS}
    used: set[str] = set()
    for kind, n in ((k, c * scale) for k, c in COUNTS.items()):
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


def with_lookalikes(kb: dict[str, Entity]) -> list[Entity]:
    """The entities that `search` for their own name lists with another one, by id.

    Equal to `[e for e in kb.values() if twins(kb, e.id)]` in id order: each pair is
    compared once, with each name's letter counts made once (at scale 4 one search
    per entity took 0.15 s a knowledge base)."""
    ents = sorted(kb.values(), key=lambda e: e.id)
    low = [e.name.lower() for e in ents]
    counts = [Counter(n) for n in low]
    found = [False] * len(ents)
    for i in range(len(ents)):
        for j in range(i + 1, len(ents)):
            if (not found[i] or not found[j]) and _close(low[i], low[j], counts[i], counts[j]):
                found[i] = found[j] = True
    return [e for e, f in zip(ents, found) if f]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _close(a: str, b: str, ca: Counter | None = None, cb: Counter | None = None) -> bool:
    """Edit distance at most 2; a cheap letter-count test first (each edit moves it by 1).
    ca, cb: the letter counts of a and b, when the caller has them."""
    if abs(len(a) - len(b)) > 2:
        return False
    ca, cb = ca or Counter(a), cb or Counter(b)
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


def environment_of(seed: int, scale: int = 1):
    """The environment of knowledge base `seed` at `scale`: action -> (observation,
    episode over)."""
    kb = build(seed, scale)
    return lambda action: observe(kb, action)
