"""The batched agent loop and the Generator that wraps it.

Every live episode's text (question, newline, the turns so far) goes to the policy in
one batched call that stops at the end of an action (`]`, a line break or
end-of-sequence); each environment answers its episode's action; the observation is
appended as context; the loop repeats until every episode has answered, run out of
turns or of room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prmkit.data.turns import STEP_SEP, Turn, split_step
from prmkit.models.generator import Generation, SamplingParams, TextGenerator
from prmkit.models.sampling import derive_seed
from prmkit.models.steps import split_steps
from prmkit.worlds import get_world

# act(texts, turn_seeds) -> per text: (action text, policy token ids, their log-probs, ended)
Act = Callable[[list[str], list[int] | None], list[tuple[str, list[int], list[float], bool]]]


@dataclass
class Episode:
    """One episode: the text so far and what the policy generated in it."""

    text: str
    env: Callable[[str], tuple[str, bool]]
    seed: int | None = None
    turns: list[Turn] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    done: bool = False
    answered: bool = False

    def add(self, action: str, ids: list[int], lps: list[float]) -> None:
        """Record the action, ask the environment, append its observation."""
        obs, end = self.env(action)
        self.turns.append(Turn(action, obs))
        self.text += self.turns[-1].step() + STEP_SEP
        self.token_ids += ids
        self.logprobs += lps
        self.answered = end
        self.done = self.done or end


def environment(world: str, question: str) -> Callable[[str], tuple[str, bool]]:
    """The environment of one question: action -> (observation, episode over)."""
    return get_world(world).environment(question)


def replay(text: str, env: Callable[[str], tuple[str, bool]]) -> bool:
    """Replay the turns already in an episode's text through its environment.

    Raises ValueError when a recorded observation is not what the environment answers
    (the prefix belongs to another world or was edited); returns whether it answered.
    """
    ended = False
    for k, step in enumerate(s for s in text.split(STEP_SEP)[1:] if s.strip()):
        turn = split_step(step)
        obs, ended = env(turn.action)
        if turn.observation and obs != turn.observation:
            raise ValueError(f"turn {k}: the environment answers {obs!r}, not {turn.observation!r}")
    return ended


def run_episodes(
    act: Act,
    episodes: list[Episode],
    max_turns: int,
    one_turn: bool = False,
    max_tokens: int | None = None,
) -> int:
    """Advance all episodes together until each is done; returns the number of turns.

    An episode is done when it answers, the policy ends it, it has taken max_turns
    turns (one with one_turn), or it has used max_tokens policy tokens (the turn that
    crosses the budget still completes).
    """
    n_turns = 0
    for t in range(1 if one_turn else max_turns):
        live = [e for e in episodes if not e.done]
        if not live:
            break
        seeds = None if live[0].seed is None else [derive_seed(e.seed, t) for e in live]
        for e, (action, ids, lps, ended) in zip(live, act([e.text for e in live], seeds)):
            if action or not ended:
                e.add(action, ids, lps)
                n_turns += 1
            over = max_tokens is not None and len(e.token_ids) >= max_tokens
            e.done = e.done or ended or over
    return n_turns


class AgentPolicy(TextGenerator):
    """A Generator whose generations are episodes in a world (text only: each action
    is sampled by the policy inside, within its own context).

    A prompt is a question, optionally followed by turns (`render(question, steps)`):
    the environment replays them, then the episode resumes (an episode that has
    already answered generates nothing). `max_new_tokens` bounds the policy tokens of
    an episode and `action_tokens` each action; `max_turns` bounds the new turns and
    `stop_at_step` stops after one turn (beam search over turns).
    Token ids and log-probs are the policy's action tokens only: observations are
    context, never policy output.
    """

    step_sep = STEP_SEP

    def __init__(
        self, act_factory, world: str = "toolqa", max_turns: int = 10, action_tokens: int = 48
    ) -> None:
        self.act_factory = act_factory  # SamplingParams (max_new_tokens per action) -> Act
        self.world = world
        self.max_turns = max_turns
        self.action_tokens = action_tokens

    def next_actions(
        self, texts: list[str], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[tuple[str, list[int], list[float], bool]]:
        """The policy's next action after each episode text, without the environment:
        (action, token ids, log-probs, the policy ended the episode). `params.max_new_tokens`
        bounds the action; `seeds` (one per text) are the rows' own random streams."""
        return self.act_factory(params)(texts, seeds)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        prompts = [p if p.endswith(STEP_SEP) else p + STEP_SEP for p in prompts]
        base = [
            params.seeds[i] if params.seeds is not None else params.seed
            for i in range(len(prompts))
        ]
        eps = [
            Episode(
                p,
                environment(self.world, p.split(STEP_SEP, 1)[0]),
                None if base[i] is None else derive_seed(base[i], i * (params.seeds is None), j),
            )
            for i, p in enumerate(prompts)
            for j in range(params.n)
        ]
        for e in eps:  # rollouts from a turn prefix: the environment replays it first
            e.done = e.answered = replay(e.text, e.env)
        per_action = SamplingParams(**{**params.__dict__, "max_new_tokens": self.action_tokens})
        act = self.act_factory(per_action)
        run_episodes(act, eps, self.max_turns, params.stop_at_step, params.max_new_tokens)
        out: list[list[Generation]] = [[] for _ in prompts]
        for k, e in enumerate(eps):
            new = e.text[len(prompts[k // params.n]) :]
            out[k // params.n].append(
                Generation(new, split_steps(new), e.token_ids, e.logprobs, e.answered)
            )
        return out
