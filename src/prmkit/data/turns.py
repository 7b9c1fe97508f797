"""Trajectories: a sample as turns, each the policy's action and the environment's answer.

A turn is stored in a sample's `steps` as one line, `action => observation`, so every
step-level stage (labels, PRMs, evaluation, search) reads a trajectory as steps: a
step is an action with its observation as context. `turns` in a sample file is the
same content split in two; `from_dict` checks that both agree.

Observation text is context, never policy output: `policy_spans` says which
characters of a rendered trajectory the policy wrote and `loss_mask` turns that into
a per-token mask. Every loss and log-probability over trajectories uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

TURN_SEP = " => "
STEP_SEP = "\n"


@dataclass(frozen=True)
class Turn:
    """One turn: what the policy did and what the environment answered."""

    action: str
    observation: str

    def step(self) -> str:
        """The turn as one step of text: `action => observation` (the action alone when
        the environment has not answered, e.g. a generation cut off mid-action)."""
        return self.action + TURN_SEP + self.observation if self.observation else self.action

    def to_dict(self) -> dict:
        return {"action": self.action, "observation": self.observation}


def split_step(step: str) -> Turn:
    """A step's text -> Turn (at the last ` => `); no separator: an empty observation."""
    i = step.rfind(TURN_SEP)
    if i < 0:
        return Turn(step, "")
    return Turn(step[:i], step[i + len(TURN_SEP) :])


def turns_from_list(v: object, steps: list[str] | None = None) -> list[Turn]:
    """Validate a sample's `turns` field (and, given, that it matches the steps)."""
    if not isinstance(v, list) or not v:
        raise ValueError("field 'turns' must be a non-empty list of {action, observation}")
    out = []
    for i, t in enumerate(v):
        if not isinstance(t, dict) or set(t) != {"action", "observation"}:
            raise ValueError(f"field 'turns'[{i}] must be an object with action and observation")
        if not all(isinstance(t[k], str) for k in t):
            raise ValueError(f"field 'turns'[{i}]: action and observation must be strings")
        if any(STEP_SEP in t[k] for k in t):
            raise ValueError(f"field 'turns'[{i}] contains a line break")
        if TURN_SEP in t["observation"]:
            raise ValueError(f"field 'turns'[{i}].observation contains {TURN_SEP.strip()!r}")
        out.append(Turn(t["action"], t["observation"]))
    if steps is None:
        return out
    if len(out) != len(steps):
        raise ValueError(f"{len(out)} turns for {len(steps)} steps")
    for i, (t, s) in enumerate(zip(out, steps)):
        if t.step() != s:
            raise ValueError(f"turns[{i}] does not match steps[{i}] ({s!r})")
    return out


def render_turns(prompt: str, turns: list[Turn]) -> tuple[str, list[tuple[int, int]]]:
    """The text the policy sees, and the (start, end) character spans it wrote.

    Text: prompt, newline, then each turn as `action => observation` and a newline.
    Only the actions are the policy's; the separator, the observation and the line
    break after it come from the environment.
    """
    text, spans = prompt + STEP_SEP, []
    for t in turns:
        spans.append((len(text), len(text) + len(t.action)))
        text += t.step() + STEP_SEP
    return text, spans


def loss_mask(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
    """Per token: True when the policy wrote it, so it enters losses and log-probs.

    offsets: each token's (start, end) characters in the rendered text (a character
    tokenizer: (i, i+1); Hugging Face: `offset_mapping`). A token counts as the
    policy's only when it lies wholly inside one action span: a token that straddles
    an action and an observation is context.
    """
    out, k = [], 0
    for a, b in offsets:
        while k < len(spans) and spans[k][1] < b:
            k += 1
        out.append(k < len(spans) and spans[k][0] <= a and b <= spans[k][1] and a < b)
    return out
