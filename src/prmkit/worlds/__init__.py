"""Worlds: problem generators with exact graders. Imports nothing else of prmkit.

WORLDS maps a world's name to its module; every world module exposes
`grade(prompt, reference, steps) -> Grade`, `extract_answer(steps)`, and
`local_errors(prompt, steps)`: each step judged on its own, not only up to the first
error.
"""

from prmkit.worlds import arithmetic, gsm8k
from prmkit.worlds.base import Grade

WORLDS = {"arithmetic": arithmetic, "gsm8k": gsm8k}


def get_world(name: str):
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; choose from {sorted(WORLDS)}")
    return WORLDS[name]


__all__ = ["WORLDS", "Grade", "arithmetic", "get_world", "gsm8k"]
