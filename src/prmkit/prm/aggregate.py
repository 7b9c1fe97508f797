"""Step-score aggregators: one number per (partial) solution from its per-step PRM scores.

Pure functions of a list of per-step probabilities in [0, 1]:

- min:  min_i p_i        the weakest step (Lightman et al. 2023, "Let's Verify Step by Step")
- prod: prod_i p_i       the probability that every step is right, if independent
- last: p_T              the last step's score (a soft-label PRM's estimate of success)
- mean: (1/T) sum_i p_i
- sum:  sum_i p_i        grows with the number of steps: a policy trained on it learns
                         to pad its solutions (the sum-form hack; see docs/rl-*.md)

An empty solution scores 0 under every aggregator. Search, the reward server and
the TRL / verl reward functions all read this one table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def agg_min(scores: Sequence[float]) -> float:
    return min(scores) if len(scores) else 0.0


def agg_prod(scores: Sequence[float]) -> float:
    return math.prod(scores) if len(scores) else 0.0


def agg_last(scores: Sequence[float]) -> float:
    return scores[-1] if len(scores) else 0.0


def agg_mean(scores: Sequence[float]) -> float:
    return sum(scores) / len(scores) if len(scores) else 0.0


def agg_sum(scores: Sequence[float]) -> float:
    return float(sum(scores))


AGGREGATORS: dict[str, Callable[[Sequence[float]], float]] = {
    "min": agg_min,
    "prod": agg_prod,
    "last": agg_last,
    "mean": agg_mean,
    "sum": agg_sum,
}


def check_aggregator(name: str) -> None:
    """Raise ValueError unless `name` is an aggregator."""
    if name not in AGGREGATORS:
        raise ValueError(f"unknown aggregator {name!r}; choose from {sorted(AGGREGATORS)}")


def aggregate(name: str, scores: Sequence[float]) -> float:
    """One number from per-step scores by the aggregator `name` (0 for no steps)."""
    check_aggregator(name)
    return float(AGGREGATORS[name](scores))
