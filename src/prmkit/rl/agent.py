"""RL over multi-turn trajectories of the built-in agent: `RLTrainer` with its own sampling.

Each step runs `group_size` episodes of each of `prompts_per_step` tasks in one
batched agent loop (`prmkit.rl.turns`), grades them with the world's exact turn
verifier and reads them back as a `Batch` whose policy tokens are the action
characters only. The rewards, filtering, advantages, update (loss, KL, entropy) and
metrics stages are `RLTrainer`'s, unchanged: a turn is a step.
"""

from __future__ import annotations

from pathlib import Path

import torch

from prmkit.agents.builtin import builtin_agent
from prmkit.data import InputError
from prmkit.models.builtin import POLICY_KIND, BuiltinPolicy
from prmkit.models.checkpoint import read_config
from prmkit.models.generator import SamplingParams
from prmkit.rl.rollout import Batch, Rollout
from prmkit.rl.settings import RLSettings
from prmkit.rl.trainer import RLTrainer
from prmkit.rl.turns import (
    episode_rollouts,
    grounded,
    sample_episodes,
    turn_batch,
    turn_metrics,
)

DEFAULT_MAX_TURNS = 10


def load_agent_policy(path: str | Path, world: str = "toolqa") -> tuple[BuiltinPolicy, int]:
    """The built-in policy of an `agent train` checkpoint and its `max_turns`; an
    InputError for any other checkpoint (RL over turns reads the action characters
    with a character-level policy)."""
    cfg = read_config(path, POLICY_KIND)
    if cfg.get("world") != world or cfg.get("backend", "builtin") != "builtin":
        raise InputError(
            f"--world {world} trains a built-in agent policy (`prmkit agent train`); this "
            f"checkpoint is a {cfg.get('backend', 'builtin')} policy of world {cfg.get('world')!r}",
            str(Path(path) / "config.json"),
        )
    return BuiltinPolicy.load(path, cfg), int(cfg.get("max_turns", DEFAULT_MAX_TURNS))


class TurnRLTrainer(RLTrainer):
    """`RLTrainer` for a built-in agent policy: episodes of at most `max_turns` turns."""

    def __init__(
        self,
        policy,
        settings: RLSettings,
        scorer=None,
        prover=None,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        super().__init__(policy, settings, scorer, prover)
        self.generator = builtin_agent(policy, settings.world, max_turns)

    def sample(self, problems: list, step: int) -> tuple[list[Rollout], Batch]:
        """Draw `prompts_per_step` tasks and run `group_size` episodes of each."""
        s = self.s
        batch_p = [self.rng.choice(problems) for _ in range(s.prompts_per_step)]
        params = SamplingParams(
            max_new_tokens=s.max_new_tokens,
            temperature=s.temperature,
            seed=s.seed * 1_000_003 + step,
        )
        eps = sample_episodes(self.generator, batch_p, s.group_size, params)
        rolls = episode_rollouts(batch_p, eps, self.world)
        return rolls, turn_batch(self.policy, rolls)

    def grounding(self, rolls: list[Rollout], K: int) -> torch.Tensor:
        return grounded(rolls, K)

    def extra_metrics(self, rolls: list[Rollout]) -> dict:
        return turn_metrics(rolls)
