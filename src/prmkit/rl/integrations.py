"""Process rewards for other RL trainers: TRL's GRPOTrainer and verl.

Both take one scalar per sequence, so a PRM's per-step scores are first collapsed by an
aggregator (min, mean, last, prod). That is the limit: the trainer then spreads the one
number over every token, the sum-form-like credit that the hacking experiments warn
about when the aggregator is a sum, and no step-level credit at all otherwise. prmkit's
own trainer (`prmkit rl`, `prmkit.rl.trainer`) keeps the per-step scores and maps them
to token-level advantages with a credit method (`prmkit.rl.credit`).

- TRL: `make_trl_reward_func(prm)` returns `reward_func(prompts, completions, **kwargs)
  -> list[float]`, the signature `trl.GRPOTrainer(reward_funcs=[...])` calls, for plain
  text and conversational (list of messages) samples alike.
- verl: `compute_score(data_source, solution_str, ground_truth, extra_info=None,
  **kwargs)`, the signature of verl's custom reward function
  (`custom_reward_function.path/name`, settings in its `reward_kwargs`); the problem
  text comes from `extra_info["prompt"]` (or "question"). `make_compute_score` binds a
  PRM. For step-level credit in verl, see `prmkit.rl.verl_reward` instead: a reward
  manager that keeps the steps.

Neither needs TRL or verl installed: they are plain functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prmkit.models.steps import STEP_SEP, split_steps
from prmkit.prm.aggregate import AGGREGATORS, check_aggregator
from prmkit.prm.base import load_scorer
from prmkit.worlds import get_world


def _text(x) -> str:
    """A completion or prompt as text: plain strings, or the last message's content."""
    if isinstance(x, str):
        return x
    if isinstance(x, dict):
        return str(x.get("content", ""))
    if isinstance(x, (list, tuple)) and x:
        return _text(x[-1])
    return ""


def sequence_scores(
    prm,
    prompts: list[str],
    solutions: list[str],
    aggregate: str = "min",
    answers: list[str | None] | None = None,
    outcome_weight: float = 0.0,
    world: str = "arithmetic",
    step_sep: str = STEP_SEP,
) -> list[float]:
    """One scalar per (prompt, solution): the aggregated PRM score, plus outcome_weight
    times the world grader's 0/1 when a reference answer is given."""
    check_aggregator(aggregate)
    agg = AGGREGATORS[aggregate]
    steps = [split_steps(s, step_sep) for s in solutions]
    scored = [i for i, st in enumerate(steps) if st]
    vals = prm.score([(prompts[i], steps[i]) for i in scored]) if scored else []
    out = [0.0] * len(solutions)
    for i, v in zip(scored, vals):
        out[i] = float(agg(list(v))) if v else 0.0
    if outcome_weight and answers is not None:
        grader = get_world(world)
        for i, (p, st, a) in enumerate(zip(prompts, steps, answers)):
            if a is not None:
                out[i] += outcome_weight * float(grader.grade(p, str(a), st or [""]).correct)
    return out


def make_trl_reward_func(
    prm,
    aggregate: str = "min",
    outcome_weight: float = 0.0,
    answer_key: str = "answer",
    world: str = "arithmetic",
    step_sep: str = STEP_SEP,
) -> Callable[..., list[float]]:
    """A TRL GRPOTrainer reward function scoring completions with a prmkit StepScorer.

    TRL calls `reward_func(prompts=..., completions=..., **dataset_columns)`; with
    outcome_weight the dataset column `answer_key` holds the reference answers.
    """
    check_aggregator(aggregate)

    def reward_func(prompts, completions, **kwargs) -> list[float]:
        answers = kwargs.get(answer_key)
        return sequence_scores(
            prm,
            [_text(p) for p in prompts],
            [_text(c) for c in completions],
            aggregate,
            list(answers) if answers is not None else None,
            outcome_weight,
            world,
            step_sep,
        )

    reward_func.__name__ = f"prmkit_{prm.kind}_{aggregate}"
    return reward_func


VERL_INTERNAL = {"reward_router_address", "reward_model_tokenizer"}
"""Keyword arguments verl 0.9 passes to every score function; a PRM has no use for them."""


def make_compute_score(
    prm,
    aggregate: str = "min",
    outcome_weight: float = 1.0,
    world: str = "arithmetic",
    step_sep: str = STEP_SEP,
) -> Callable[..., float]:
    """A verl-style `compute_score(data_source, solution_str, ground_truth, extra_info=None)`."""
    check_aggregator(aggregate)

    def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
        unknown = sorted(set(kwargs) - VERL_INTERNAL)
        if unknown:
            raise ValueError(f"compute_score got unknown keyword(s) {unknown}")
        info = extra_info or {}
        prompt = info.get("prompt") or info.get("question")
        if not prompt:
            raise ValueError(
                "compute_score needs the problem text in extra_info['prompt'] (or 'question') to score steps"
            )
        return sequence_scores(
            prm,
            [_text(prompt)],
            [solution_str],
            aggregate,
            [ground_truth],
            outcome_weight,
            world,
            step_sep,
        )[0]

    return compute_score


def world_of(data_source: str) -> str:
    """The prmkit world a verl data source names: gsm8k for any source with "gsm8k" in
    its name (verl's own GSM8K files say openai/gsm8k), else arithmetic."""
    return "gsm8k" if "gsm8k" in str(data_source).lower() else "arithmetic"


SETTINGS = ("prm", "aggregate", "outcome_weight", "world", "step_sep")
"""The keyword arguments (verl: `custom_reward_function.reward_kwargs`) compute_score reads."""

_BOUND: dict = {}


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """verl entry point (`custom_reward_function.path/name`).

    Settings come from verl's `custom_reward_function.reward_kwargs` (passed here as
    keywords), else the environment: prm ($PRMKIT_PRM, "rule"), aggregate ($PRMKIT_AGG,
    "min"), outcome_weight ($PRMKIT_OUTCOME_WEIGHT, 1.0), world ($PRMKIT_WORLD, else
    `world_of(data_source)`), step_sep ("\\n"). An unknown keyword is a ValueError.
    """
    unknown = sorted(set(kwargs) - set(SETTINGS) - VERL_INTERNAL)
    if unknown:
        raise ValueError(
            f"unknown prmkit reward setting(s) {unknown}; choose from {list(SETTINGS)}"
        )
    key = (
        str(kwargs.get("prm", os.environ.get("PRMKIT_PRM", "rule"))),
        str(kwargs.get("aggregate", os.environ.get("PRMKIT_AGG", "min"))),
        float(kwargs.get("outcome_weight", os.environ.get("PRMKIT_OUTCOME_WEIGHT", "1.0"))),
        str(kwargs.get("world", os.environ.get("PRMKIT_WORLD") or world_of(data_source))),
        str(kwargs.get("step_sep", STEP_SEP)),
    )
    if key not in _BOUND:
        prm, agg, w, world, sep = key
        _BOUND[key] = make_compute_score(load_scorer(prm, world), agg, w, world, sep)
    return _BOUND[key](data_source, solution_str, ground_truth, extra_info)
