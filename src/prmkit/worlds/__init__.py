"""Worlds: problem generators with exact graders. Imports nothing else of prmkit.

WORLDS maps a world's name to its module; every world module exposes
`grade(prompt, reference, steps) -> Grade` and `extract_answer(steps)`.
"""

from prmkit.worlds import arithmetic, gsm8k
from prmkit.worlds.base import Grade

WORLDS = {"arithmetic": arithmetic, "gsm8k": gsm8k}


def get_world(name: str):
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; choose from {sorted(WORLDS)}")
    return WORLDS[name]


__all__ = ["WORLDS", "Grade", "arithmetic", "get_world", "gsm8k"]
