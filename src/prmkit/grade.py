"""Grade generations into samples: joins a world's grader to the data records."""

from __future__ import annotations

from prmkit.data.records import Problem, Sample
from prmkit.data.turns import split_step
from prmkit.worlds import get_world


def graded_sample(
    problem: Problem,
    steps: list[str],
    sid: str,
    world: str = "arithmetic",
    meta: dict | None = None,
) -> Sample:
    """A Sample with the world's exact grade: correct, first error, per-step status."""
    steps = steps or [""]  # an empty generation is one empty (wrong) step, never dropped
    w = get_world(world)
    g = w.grade(problem.prompt, problem.answer, steps)
    turns = [split_step(s) for s in steps] if hasattr(w, "TURN_SEP") else None
    return Sample(
        id=sid,
        problem_id=problem.id,
        prompt=problem.prompt,
        reference=problem.answer,
        steps=steps,
        final_answer=g.final_answer,
        correct=g.correct,
        first_error=g.first_error,
        meta={"world": world, "status": g.status, "reason": g.reason} | (meta or {}),
        turns=turns,
    )
