"""Grade generations into samples: joins a world's grader to the data records.

`graded_sample` grades one solution, `sample_problems` samples a policy on problems
and grades every solution, `read_world_problems` reads problems a world can parse.
"""

from __future__ import annotations

from tqdm import tqdm

from prmkit.data import InputError, Problem, Sample
from prmkit.data.converters import iter_records
from prmkit.data.turns import split_step
from prmkit.models.generator import SamplingParams, continue_steps
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
    turns = [split_step(s) for s in steps] if w.TURNS else None
    return Sample(
        id=sid,
        problem_id=problem.id,
        prompt=problem.prompt,
        reference=problem.answer,
        steps=steps,
        final_answer=g.final_answer,
        correct=g.correct,
        first_error=g.first_error,
        meta={"world": world, "status": g.status, "reason": g.reason, "error_kind": g.kind}
        | (meta or {}),
        turns=turns,
    )


def sample_problems(
    policy,
    problems: list[Problem],
    params: SamplingParams,
    world: str,
    chunk: int = 64,
    progress: bool = True,
) -> tuple[list, int]:
    """Graded samples for every problem, and the number of tokens generated."""
    samples, tokens = [], 0
    bar = tqdm(
        total=len(problems), desc="sampling", unit="problem", disable=not progress, leave=False
    )
    for s in range(0, len(problems), chunk):
        part = problems[s : s + chunk]
        call = SamplingParams(
            **{**params.__dict__, "seed": None if params.seed is None else params.seed + s}
        )
        gens = continue_steps(policy, [(p.prompt, []) for p in part], call)
        for p, gs in zip(part, gens):
            for j, g in enumerate(gs):
                tokens += len(g.token_ids)
                samples.append(
                    graded_sample(
                        p,
                        g.steps,
                        f"{p.id}-s{j}",
                        world,
                        {"finished": g.finished, "n_tokens": len(g.token_ids)},
                    )
                )
        bar.update(len(part))
    bar.close()
    return samples, tokens


def read_world_problems(
    path: str, invalid: list[InputError] | None = None, world: str = "arithmetic"
) -> list[Problem]:
    """Problems from JSONL; each prompt must be a prompt of `world` (arithmetic or
    toolqa: a world with a `parse_prompt`). With `invalid` (a list), a bad line is
    appended to it and skipped."""
    parse = get_world(world).parse_prompt
    out = []
    for i, obj in iter_records(path, invalid):
        try:
            p = Problem.from_dict(obj)
            parse(p.prompt)
        except (ValueError, TypeError, KeyError) as e:
            if invalid is None:
                raise InputError(str(e), path, i) from None
            invalid.append(InputError(str(e), path, i))
            continue
        out.append(p)
    if not out:
        raise InputError("file has no problems", path)
    return out
