"""How a PRM may read a toolqa episode: each `get` with the name of the entity it takes.

To see that `get[L44, mayor]` after the search `L29 Defefi; L44 Defufi` takes the
look-alike of "Defefi", a PRM must find L44 in an earlier observation, read the name
after it and compare that with the question: three hops, learned from one bit per
turn. `named_steps` writes the name an earlier observation listed for the id beside
it, `get[L44 Defufi, mayor]`, so the comparison is between the question and the
action alone. Nothing is added that the episode does not hold: the name is copied
from an observation the PRM reads anyway. A PRM trained on this view
(`prmkit prm train --render toolqa-named`) reads every episode through it; the
environment and the policy never see it (`get` takes a bare id).
"""

from __future__ import annotations

import re

from prmkit.worlds.toolqa.task import TURN_SEP, split_turn

_GET = re.compile(r"^get\[(\w+)\s*,")
_LISTED = re.compile(r"^([A-Z]\d+) (\S.*)$")


def listed_names(observation: str) -> dict[str, str]:
    """The `ID Name` pairs an observation lists (a search's hits, a get's entity);
    none from an error message, which may echo the policy's own text."""
    if observation.startswith("error:"):
        return {}
    pairs = (_LISTED.match(part.strip()) for part in observation.split(";"))
    return {m.group(1): m.group(2) for m in pairs if m}


def named_action(action: str, names: dict[str, str]) -> str:
    """`get[ID, rel]` as `get[ID Name, rel]` when ID was listed before; else unchanged."""
    m = _GET.match(action)
    if not m or m.group(1) not in names:
        return action
    return f"get[{m.group(1)} {names[m.group(1)]}," + action[m.end() :]


def named_steps(steps: list[str]) -> list[str]:
    """The episode's turns (`action => observation`) with every `get` naming its entity
    as the latest earlier listing of its id did. Idempotent; other turns unchanged."""
    names: dict[str, str] = {}
    out = []
    for step in steps:
        action, observation = split_turn(step)
        action = named_action(action, names)
        out.append(action if observation is None else action + TURN_SEP + observation)
        names |= listed_names(observation or "")
    return out
