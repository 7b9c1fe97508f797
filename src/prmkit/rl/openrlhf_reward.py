"""OpenRLHF's custom reward function, in process: `--reward.remote_url PATH/openrlhf_reward.py`.

OpenRLHF loads a Python file given as its reward URL and calls `reward_func(queries,
prompts, labels)` (openrlhf/utils/agent.py): queries are prompt + response decoded with
the special tokens kept, prompts the chat-templated prompts, labels the dataset's
reference answers. It takes one reward per query (it has no per-token reward path; see
docs/rl-integrations.md), so the steps' PRM scores are aggregated, and the outcome is
graded against the label:

    reward = aggregate(PRM step scores) + outcome_weight * grade(label)

Settings from the environment, as OpenRLHF imports the file by path: PRMKIT_PRM (rule,
local-rule, rule:WORLD or a PRM folder; default rule), PRMKIT_AGG (min),
PRMKIT_OUTCOME_WEIGHT (0.0), PRMKIT_WORLD (arithmetic) and PRMKIT_TOKENIZER (the
policy's tokenizer folder, whose special tokens and chat template are removed from the
queries; without it the queries are read as plain text).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch

from prmkit.models.chat_text import TextCleaner, load_text_tokenizer, split_query
from prmkit.prm.base import load_scorer
from prmkit.rl.integrations import AGGREGATORS
from prmkit.worlds import get_world


class Settings(NamedTuple):
    """The environment's settings (a NamedTuple: OpenRLHF executes this file without
    registering it as a module, where a dataclass cannot be built)."""

    prm: str
    aggregate: str
    outcome_weight: float
    world: str
    tokenizer: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            os.environ.get("PRMKIT_PRM", "rule"),
            os.environ.get("PRMKIT_AGG", "min"),
            float(os.environ.get("PRMKIT_OUTCOME_WEIGHT", "0.0")),
            os.environ.get("PRMKIT_WORLD", "arithmetic"),
            os.environ.get("PRMKIT_TOKENIZER", ""),
        )


_LOADED: dict = {}


def _load(s: Settings):
    """(scorer, cleaner, grader) for settings, loaded once."""
    if s not in _LOADED:
        if s.aggregate not in AGGREGATORS:
            raise ValueError(
                f"PRMKIT_AGG must be one of {sorted(AGGREGATORS)}, got {s.aggregate!r}"
            )
        cleaner = TextCleaner()
        if s.tokenizer:
            tok = load_text_tokenizer(s.tokenizer)
            if tok is None:
                raise ValueError(f"PRMKIT_TOKENIZER={s.tokenizer!r} is no tokenizer folder")
            cleaner = TextCleaner.from_tokenizer(tok)
        _LOADED[s] = (load_scorer(s.prm, s.world), cleaner, get_world(s.world))
    return _LOADED[s]


def reward_func(queries: list[str], prompts: list[str], labels: list, **kwargs) -> dict:
    """OpenRLHF's reward function: {"rewards", "scores", "extra_logs"}, tensors of (B,)."""
    s = Settings.from_env()
    scorer, cleaner, grader = _load(s)
    items = [split_query(q, p, cleaner=cleaner) for q, p in zip(queries, prompts)]
    scored = [i for i, (_, steps) in enumerate(items) if steps]
    vals = scorer.score([items[i] for i in scored]) if scored else []
    process = [0.0] * len(items)
    for i, v in zip(scored, vals):
        process[i] = float(AGGREGATORS[s.aggregate](list(v)))
    outcome = [
        float(grader.grade(problem, str(label), steps or [""]).correct)
        if s.outcome_weight and label is not None
        else 0.0
        for (problem, steps), label in zip(items, labels)
    ]
    rewards = torch.tensor([p + s.outcome_weight * o for p, o in zip(process, outcome)])
    return {
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": {
            "prm_process": torch.tensor(process),
            "prm_outcome": torch.tensor(outcome),
        },
    }
