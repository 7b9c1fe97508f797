"""Worlds: problem generators with exact graders. Imports nothing else of prmkit.

WORLDS maps a world's name to its module; every world module exposes
the members of `base.World`: `grade(prompt, reference, steps) -> Grade`,
`extract_answer(steps)`, `local_errors(prompt, steps)` (each step judged on its own,
not only up to the first error), `same_answer(a, reference)`, NAME, TURNS and
MAX_NEW_TOKENS (the policy tokens a sample gets by default).
"""

from prmkit.worlds import arithmetic, gsm8k, math, toolqa
from prmkit.worlds.base import Grade, World

WORLDS: dict[str, World] = {
    "arithmetic": arithmetic,
    "gsm8k": gsm8k,
    "math": math,
    "toolqa": toolqa,
}


def guess_world(prompt: str, meta: dict | None = None) -> str:
    """The world a sample belongs to: its meta.world when named, else arithmetic for an
    arithmetic-world prompt, toolqa for a tool-use question, else gsm8k (free text: GSM8K, ProcessBench)."""
    if meta and meta.get("world") in WORLDS:
        return meta["world"]
    if toolqa.is_prompt(prompt):
        return "toolqa"
    try:
        arithmetic.parse_prompt(prompt)
        return "arithmetic"
    except ValueError:
        return "gsm8k"


def token_budget(world: str, max_new_tokens: int | None) -> int | None:
    """`max_new_tokens` when given, else the world's MAX_NEW_TOKENS (96 for a solution,
    256 for a toolqa episode); None for an unknown world (its own check names it)."""
    if max_new_tokens is not None or world not in WORLDS:
        return max_new_tokens
    return WORLDS[world].MAX_NEW_TOKENS


def get_world(name: str) -> World:
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; choose from {sorted(WORLDS)}")
    return WORLDS[name]


__all__ = [
    "WORLDS",
    "Grade",
    "World",
    "arithmetic",
    "get_world",
    "token_budget",
    "gsm8k",
    "guess_world",
    "math",
    "toolqa",
]
