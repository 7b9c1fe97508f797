"""RL over multi-turn trajectories: the rollout stage of an agent world.

Rollouts come from the batched agent loop (`prmkit.agents.loop.run_episodes`): each
of P tasks runs in `group_size` environments that advance together, one batched
sampling call per turn. A trajectory is then read back as one text, the question and
its turns `action => observation`, and the policy's tokens in it are those that
`prmkit.data.turns.loss_mask` marks, the action characters. The `Batch` built here
has the same shapes as a single-pass one (`prmkit.rl.rollout.Batch`), with turns in
place of steps:

- ids, attn: (B, L) the whole episode text (observations included, as context);
- gen_pos, gen_ids, token_mask: (B, T) the action tokens only, so observation tokens
  never enter a log-probability, the policy loss, the KL or the entropy;
- token_step: (B, T) the turn of each action token; step_mask: (B, K) real turns.

Every later stage (rewards, filtering, advantages, update, metrics:
`prmkit.rl.step`) runs on it unchanged; a turn's return reaches every token of that
turn's action through `credit.tokens_from_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from prmkit.agents.loop import Episode, environment, run_episodes
from prmkit.data.turns import STEP_SEP, Turn, loss_mask, render_turns
from prmkit.models.generator import Generation, SamplingParams
from prmkit.models.sampling import derive_seed
from prmkit.rl.rollout import Batch, Rollout, pack_batch

ERROR_OBS = "error:"  # how a world's environment answers an action it cannot execute


@dataclass
class TurnRollout(Rollout):
    """A graded trajectory: `steps` are its turns as `action => observation` lines."""

    turns: list[Turn] = field(default_factory=list)


def char_offsets(n: int) -> list[tuple[int, int]]:
    """The (start, end) characters of each token of a character tokenizer: (i, i + 1)."""
    return [(i, i + 1) for i in range(n)]


def action_positions(text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """The characters the policy wrote and the turn of each, by `data.turns.loss_mask`.

    text: a rendered trajectory; spans: its action spans (`render_turns`). Returns
    (character positions, turn indices), in order.
    """
    mask = loss_mask(char_offsets(len(text)), spans)
    pos = [i for i, m in enumerate(mask) if m]
    turn, k = [], 0
    for i in pos:
        while spans[k][1] <= i:
            k += 1
        turn.append(k)
    return pos, turn


def sample_episodes(agent, problems: list, n: int, params: SamplingParams) -> list[list[Episode]]:
    """Run `n` episodes of each problem in one batched agent loop.

    agent: an `AgentPolicy` (its act factory, world, max_turns, action_tokens).
    params.seed seeds episode j of problem i as derive_seed(seed, i, j);
    params.max_new_tokens bounds each episode's policy tokens. Problem-major.
    """
    eps = [
        Episode(
            p.prompt + STEP_SEP,
            environment(agent.world, p.prompt),
            None if params.seed is None else derive_seed(params.seed, i, j),
        )
        for i, p in enumerate(problems)
        for j in range(n)
    ]
    act_params = SamplingParams(**{**params.__dict__, "max_new_tokens": agent.action_tokens})
    run_episodes(agent.act_factory(act_params), eps, agent.max_turns, False, params.max_new_tokens)
    return [eps[i * n : (i + 1) * n] for i in range(len(problems))]


def episode_rollouts(problems: list, episodes: list[list[Episode]], world) -> list[TurnRollout]:
    """Grade every episode exactly (the world's turn verifier). Flat, problem-major."""
    out = []
    for p, eps in zip(problems, episodes):
        for e in eps:
            steps = [t.step() for t in e.turns]
            g = world.grade(p.prompt, p.answer, steps)
            text = e.text[len(p.prompt) + len(STEP_SEP) :]
            gen = Generation(text, steps, e.token_ids, e.logprobs, e.answered)
            out.append(
                TurnRollout(p.prompt, p.answer, gen, steps, [], g.correct, g.status, e.turns)
            )
    return out


def turn_batch(policy, rollouts: list[TurnRollout]) -> Batch:
    """Right-padded tensors of whole trajectories with the action tokens marked.

    policy: a built-in (character-level) policy: `prompt_ids(text)` is BOS + one id per
    character. Tokens past its context are cut: an action token there enters nothing.
    """
    seqs, acts = [], []
    for r in rollouts:
        text, spans = render_turns(r.prompt, r.turns)
        ids = policy.prompt_ids(text)
        if len(ids) != len(text) + 1:
            raise ValueError("turn batches need a character-level policy (one token a character)")
        pos, turn = action_positions(text, spans)
        keep = [(p + 1, k) for p, k in zip(pos, turn) if p + 1 < policy.context_length]
        seqs.append(ids[: policy.context_length])
        acts.append(keep)
    n_turns = [len(r.turns) for r in rollouts]
    return pack_batch(
        seqs,
        [[p for p, _ in a] for a in acts],
        [[k for _, k in a] for a in acts],
        n_turns,
        max(1, max(n_turns)),
        policy.pad_id,
    )


def grounded(rollouts: list[TurnRollout], K: int) -> torch.Tensor:
    """(B, K) 1 where a turn's action was executable: its observation is not an error
    (SPA-RL's grounding signal g_t); 0 at padding."""
    out = torch.zeros((len(rollouts), K))
    for b, r in enumerate(rollouts):
        for k, t in enumerate(r.turns[:K]):
            out[b, k] = float(not t.observation.startswith(ERROR_OBS))
    return out


def turn_metrics(rollouts: list[TurnRollout]) -> dict:
    """Agent figures of a batch: success, turns and no-op turns per trajectory."""
    n = max(len(rollouts), 1)
    return {
        "success": round(sum(r.correct for r in rollouts) / n, 4),
        "turns_per_trajectory": round(sum(len(r.turns) for r in rollouts) / n, 3),
        "noop_turns": round(sum(r.n_noop for r in rollouts) / n, 3),
    }
