"""How a problem and its steps become text, and back.

The policy sees `prompt + "\\n"` then each step followed by the step separator; the
last step is `Answer: N`. Continuing from a prefix renders the same text, so a rollout
from step k sees exactly what the policy saw when it wrote step k.
"""

from __future__ import annotations

STEP_SEP = "\n"


def render(prompt: str, steps: list[str] | tuple[str, ...] = (), sep: str = STEP_SEP) -> str:
    """Text of a problem followed by its (partial) solution, ready to continue."""
    for s in steps:
        if sep in s:
            raise ValueError(f"step {s!r} contains the step separator {sep!r}")
    return prompt + sep + "".join(s + sep for s in steps)


def split_steps(text: str, sep: str = STEP_SEP) -> list[str]:
    """Generated text into steps: split at the separator, blank pieces dropped."""
    return [s.strip() for s in text.split(sep) if s.strip()]
