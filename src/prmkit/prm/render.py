"""How a PRM reads a solution's steps before it tags them: a plain view by default, or a
world's rewrite that puts what a check needs side by side (`--render`).

A render maps a solution's steps to the texts the PRM reads, one for one, so labels,
tags and scores stay aligned. It is saved in the PRM's config.json and applied
wherever the PRM reads steps (training, `score`, `eval`, `search`, `serve prm`, RL),
so a PRM never sees its data one way in training and another when it scores.
"""

from __future__ import annotations

from collections.abc import Callable

from prmkit.data import InputError
from prmkit.worlds.toolqa import named_steps

RENDERS: dict[str, Callable[[list[str]], list[str]]] = {
    "none": list,
    "toolqa-named": named_steps,
}
"""--render names: none (the steps as written); toolqa-named (each toolqa `get` with the
name an earlier observation listed for its id, `prmkit.worlds.toolqa.render`)."""


def render_of(cfg: dict, where: str) -> str:
    """The render a PRM's config.json names ("none" when it names none); an unknown one
    is an InputError at `where`."""
    name = cfg.get("render", "none")
    if name not in RENDERS:
        known = ", ".join(RENDERS)
        raise InputError(f"unknown render {name!r} in config.json (known: {known})", where)
    return name
