"""Problems, solutions and step labels: the records every stage reads and writes.

Every record round-trips through a plain dict (`to_dict` / `from_dict`). `from_dict`
validates types and raises `ValueError` with a short reason; the JSONL reader turns
that into `FILE:LINE: reason`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prmkit.data.turns import Turn, turns_from_list


def _req(d: dict, key: str, types: type | tuple, what: str | None = None) -> Any:
    if key not in d:
        raise ValueError(f"missing field '{key}'")
    return _typed(d[key], key, types, what)


def _opt(d: dict, key: str, types: type | tuple, default: Any = None) -> Any:
    if key not in d or d[key] is None:
        return default
    return _typed(d[key], key, types)


def _typed(v: Any, key: str, types: type | tuple, what: str | None = None) -> Any:
    # bool is an int in Python; never accept it where a number is asked for.
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ValueError(f"field '{key}' must be {what or _name(types)}, got bool")
    if not isinstance(v, types):
        raise ValueError(f"field '{key}' must be {what or _name(types)}, got {type(v).__name__}")
    return v


def _name(types: type | tuple) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


def _str_list(d: dict, key: str, allow_empty: bool = False) -> list[str]:
    v = _req(d, key, list, "a list of strings")
    if not v and not allow_empty:
        raise ValueError(f"field '{key}' is an empty list")
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise ValueError(f"field '{key}'[{i}] must be a string, got {type(s).__name__}")
    return v


@dataclass
class Problem:
    """A problem with a reference answer."""

    id: str
    prompt: str
    answer: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        if not isinstance(d, dict):
            raise ValueError(f"a problem must be a JSON object, got {type(d).__name__}")
        pid = _req(d, "id", (str, int))
        return cls(
            id=str(pid),
            prompt=_req(d, "prompt", str),
            answer=str(_req(d, "answer", (str, int, float))),
            meta=_opt(d, "meta", dict, {}),
        )


@dataclass
class StepLabels:
    """Labels for one solution's steps, with where they came from.

    hard: per step, True = correct. soft: per step, the estimated probability that the
    step is on a path to the right answer, in [0, 1]. first_error: index of the first
    wrong step, -1 when all are correct. provenance: method, k, rollouts, tokens, ...
    """

    first_error: int
    hard: list[bool] | None = None
    soft: list[float] | None = None
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, n_steps: int | None = None) -> StepLabels:
        if not isinstance(d, dict):
            raise ValueError("field 'labels' must be an object")
        fe = _req(d, "first_error", int)
        hard = _opt(d, "hard", list)
        soft = _opt(d, "soft", list)
        if hard is not None and not all(isinstance(h, bool) for h in hard):
            raise ValueError("field 'labels.hard' must be a list of booleans")
        if soft is not None:
            if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in soft):
                raise ValueError("field 'labels.soft' must be a list of numbers")
            if not all(0.0 <= s <= 1.0 for s in soft):
                raise ValueError("field 'labels.soft' values must lie in [0, 1]")
            soft = [float(s) for s in soft]
        if n_steps is not None:
            for name, lab in (("hard", hard), ("soft", soft)):
                if lab is not None and len(lab) != n_steps:
                    raise ValueError(f"labels.{name} has {len(lab)} entries for {n_steps} steps")
            if not -1 <= fe < n_steps:
                raise ValueError(f"labels.first_error {fe} out of range for {n_steps} steps")
        return cls(first_error=fe, hard=hard, soft=soft, provenance=_opt(d, "provenance", dict, {}))


@dataclass
class Sample:
    """One solution to a problem, as steps, graded and possibly labeled.

    steps: the reasoning steps; the last one states the final answer.
    correct / first_error: the world's exact grade (None where no grader exists).
    labels: step labels from a labeling method (None until labeled).
    turns: for a multi-turn trajectory, each step split into the policy's action and
    the environment's observation (see `data.turns`); None for plain solutions.
    """

    id: str
    problem_id: str
    prompt: str
    reference: str
    steps: list[str]
    final_answer: str | None = None
    correct: bool | None = None
    first_error: int | None = None
    labels: StepLabels | None = None
    meta: dict = field(default_factory=dict)
    turns: list[Turn] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("labels", "turns"):
            if d[key] is None:
                d.pop(key)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Sample:
        if not isinstance(d, dict):
            raise ValueError(f"a sample must be a JSON object, got {type(d).__name__}")
        turns = d.get("turns")
        if "steps" not in d and turns is not None:
            steps = [t.step() for t in turns_from_list(turns)]
        else:
            steps = _str_list(d, "steps")
        labels = d.get("labels")
        fe = _opt(d, "first_error", int)
        if fe is not None and not -1 <= fe < len(steps):
            raise ValueError(f"first_error {fe} out of range for {len(steps)} steps")
        return cls(
            id=str(_req(d, "id", (str, int))),
            problem_id=str(_req(d, "problem_id", (str, int))),
            prompt=_req(d, "prompt", str),
            reference=str(_req(d, "reference", (str, int, float))),
            steps=steps,
            final_answer=_opt(d, "final_answer", str),
            correct=_opt(d, "correct", bool),
            first_error=fe,
            labels=None if labels is None else StepLabels.from_dict(labels, len(steps)),
            meta=_opt(d, "meta", dict, {}),
            turns=None if turns is None else turns_from_list(turns, steps),
        )

    def problem(self) -> Problem:
        return Problem(id=self.problem_id, prompt=self.prompt, answer=self.reference)
