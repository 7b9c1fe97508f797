"""A verl reward manager with step-level credit: any prmkit PRM, rewards on the step ends.

verl's own reward managers put one scalar per response on its last token. This one
scores each response's steps with a prmkit PRM (`prmkit.prm.base.load_scorer`: rule,
local-rule, rule:WORLD or a trained PRM's folder), turns the step scores into step
returns with a credit method (`prmkit.rl.credit`: min by default; sum, softmin, clip,
delta, shaping), and places each return's increment on the token that ends its step
(`prmkit.rl.dense`), the outcome on the last token. The result is verl's
`[batch, response_length]` reward tensor: with REINFORCE++ or GAE at gamma = 1 every
token of step k gets return G_k + w_o * o.

verl 0.9 (reward loop) configuration:

    reward.reward_manager.source=importlib
    reward.reward_manager.name=PrmkitRewardManager
    reward.reward_manager.module.path=pkg://prmkit.rl.verl_reward
    +reward.reward_kwargs.prm=local-rule
    +reward.reward_kwargs.credit=min
    algorithm.adv_estimator=reinforce_plus_plus algorithm.gamma=1.0

Older verl (`AbstractRewardManager`: `__call__(data, return_dict)`, settings from
`reward_model.reward_kwargs`) is served by the same class. The settings are the
fields of `DenseRewardConfig`; an unknown one is an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from prmkit.models.chat_text import TextCleaner, decode_pieces
from prmkit.models.steps import STEP_SEP
from prmkit.prm.base import load_scorer
from prmkit.rl import credit
from prmkit.rl.dense import dense_rewards, step_end_tokens
from prmkit.rl.rollout import token_steps
from prmkit.worlds import WORLDS, get_world

VERL_INTERNAL = {"reward_router_address", "reward_model_tokenizer"}
"""Keyword arguments verl 0.9 passes to every reward manager; this one has no use for them."""


@dataclass
class DenseRewardConfig:
    """The manager's settings (verl: `reward.reward_kwargs.NAME`)."""

    prm: str = "rule"
    """the PRM: rule, local-rule, rule:WORLD or a trained PRM's folder"""
    world: str = "arithmetic"
    """the world whose grader gives the outcome and whose verifier the rule PRMs use"""
    credit: str = "min"
    """credit method from step scores to step returns: min, sum, softmin, clip, delta, shaping"""
    prm_scale: str = "prob"
    """step reward from a PRM score p: prob (p) or signed (2p - 1, PURE's)"""
    process_weight: float = 1.0
    """weight of the process returns"""
    outcome_weight: float = 1.0
    """weight of the outcome (0/1) added on the last token"""
    outcome: str = "world"
    """who grades the outcome: world (prmkit's grader for `world`) or verl (verl's
    compute_score for the row's data source, e.g. openai/gsm8k)"""
    gamma: float = 1.0
    """discount between steps (sum, clip, delta, shaping)"""
    eta: float = 1.0
    """clip threshold (clip)"""
    temperature: float = 0.1
    """softmin temperature (softmin)"""
    step_sep: str = STEP_SEP
    """the separator between steps in a response"""
    problem_key: str = "question"
    """extra_info key holding the problem text (verl's GSM8K files: question); without it
    the problem is the user message of the decoded, chat-templated prompt"""

    def check(self) -> None:
        if self.credit not in credit.CREDIT:
            raise ValueError(f"credit must be one of {sorted(credit.CREDIT)}, got {self.credit!r}")
        if self.prm_scale not in ("prob", "signed"):
            raise ValueError(f"prm_scale must be prob or signed, got {self.prm_scale!r}")
        if self.outcome not in ("world", "verl"):
            raise ValueError(f"outcome must be world or verl, got {self.outcome!r}")
        if self.world not in WORLDS:
            raise ValueError(f"world must be one of {sorted(WORLDS)}, got {self.world!r}")

    def params(self) -> credit.CreditParams:
        return credit.CreditParams(self.gamma, self.temperature, self.eta)


def config_from(kwargs: dict) -> DenseRewardConfig:
    """The settings from verl's reward_kwargs; an unknown name is a ValueError."""
    names = {f.name for f in dataclasses.fields(DenseRewardConfig)}
    unknown = sorted(set(kwargs) - names - VERL_INTERNAL)
    if unknown:
        raise ValueError(f"unknown prmkit reward setting(s) {unknown}; choose from {sorted(names)}")
    cfg = DenseRewardConfig(**{k: v for k, v in kwargs.items() if k in names})
    cfg.check()
    return cfg


@dataclass
class Response:
    """One response as the PRM sees it."""

    problem: str
    steps: list[str]
    token_step: list[int]
    """step of each valid response token (-1 for all when there is no step)"""
    text: str
    answer: Any = None
    data_source: str = ""
    extra_info: dict | None = None


def read_response(tok, cleaner: TextCleaner, prompt_ids, response_ids, extra, cfg) -> Response:
    """Problem, steps and token-to-step map of one row (valid ids only, no padding)."""
    pieces = decode_pieces(
        lambda x: tok.decode(x, skip_special_tokens=True), [int(t) for t in response_ids]
    )
    idx, steps = token_steps(pieces, cfg.step_sep)
    if steps == [""]:
        idx, steps = [-1] * len(pieces), []
    problem = (extra or {}).get(cfg.problem_key)
    if not isinstance(problem, str) or not problem.strip():
        prompt = tok.decode([int(t) for t in prompt_ids], skip_special_tokens=False)
        problem = cleaner.problem(prompt)
    return Response(problem.strip(), steps, idx, "".join(pieces))


class DenseRewarder:
    """Responses to verl's reward tensor: PRM step scores, credit, placement on the tokens."""

    def __init__(self, cfg: DenseRewardConfig, compute_score=None) -> None:
        self.cfg = cfg
        self.scorer = load_scorer(cfg.prm, cfg.world)
        self.world = get_world(cfg.world)
        self.compute_score = compute_score
        if cfg.outcome == "verl" and compute_score is None:
            raise ValueError("outcome=verl needs verl's compute_score")

    def outcome(self, s: Response) -> float:
        if s.answer is None:
            return 0.0
        if self.cfg.outcome == "verl":
            out = self.compute_score(
                data_source=s.data_source,
                solution_str=s.text,
                ground_truth=s.answer,
                extra_info=s.extra_info,
            )
            return float(out["score"] if isinstance(out, dict) else out)
        return float(self.world.grade(s.problem, str(s.answer), s.steps or [""]).correct)

    def step_scores(self, responses: list[Response]) -> list[list[float]]:
        scored = [i for i, s in enumerate(responses) if s.steps]
        vals = self.scorer.score([(responses[i].problem, responses[i].steps) for i in scored])
        out: list[list[float]] = [[] for _ in responses]
        for i, v in zip(scored, vals):
            out[i] = [float(x) for x in v]
        return out

    def rewards(self, responses: list[Response], T: int) -> tuple[torch.Tensor, dict[str, list]]:
        """(B, T) token rewards and per-sample extra info (prm_min, outcome, steps)."""
        B, c = len(responses), self.cfg
        p = self.step_scores(responses)
        K = max((len(s.steps) for s in responses), default=0)
        probs = torch.zeros(B, K)
        mask = torch.zeros(B, K, dtype=torch.bool)
        token_step = torch.full((B, T), -1, dtype=torch.long)
        last = torch.full((B,), -1, dtype=torch.long)
        for b, s in enumerate(responses):
            probs[b, : len(p[b])] = torch.tensor(p[b])
            mask[b, : len(p[b])] = True
            token_step[b, : len(s.token_step)] = torch.tensor(s.token_step, dtype=torch.long)
            last[b] = len(s.token_step) - 1
        r = credit.signed(probs) if c.prm_scale == "signed" else probs
        r = torch.where(mask, r, 0.0)
        o = torch.tensor([self.outcome(s) for s in responses])
        ends = step_end_tokens(token_step, K)
        out = dense_rewards(
            r, mask, ends, last, o, T, c.credit, c.params(), c.process_weight, c.outcome_weight
        )
        extra = {
            "prm_min": [min(v) if v else 0.0 for v in p],
            "outcome": o.tolist(),
            "steps": [len(s.steps) for s in responses],
        }
        return out, extra


def _config_kwargs(config) -> dict:
    """verl 0.9's `reward.reward_kwargs` from the trainer config (empty without one)."""
    if config is None:
        return {}
    reward = config.get("reward") or {}
    return dict(reward.get("reward_kwargs") or {})


class PrmkitRewardManager:
    """verl's reward manager protocol, both generations.

    verl 0.9 builds it as `cls(config=..., tokenizer=..., compute_score=..., **verl's)`,
    awaits `run_single(one_row)` per response and stacks the answers with the class
    method `assemble_rm_scores`. Older verl builds it as `cls(tokenizer=...,
    num_examine=..., compute_score=..., reward_fn_key=..., **reward_kwargs)` and calls
    it on the whole batch. Settings: `reward.reward_kwargs` (0.9) or keyword arguments.
    """

    def __init__(
        self,
        config=None,
        tokenizer=None,
        compute_score=None,
        num_examine: int = 0,
        reward_fn_key: str = "data_source",
        **kwargs,
    ) -> None:
        if tokenizer is None:
            raise ValueError("PrmkitRewardManager needs the policy's tokenizer")
        self.cfg = config_from({**_config_kwargs(config), **kwargs})
        self.tokenizer = tokenizer
        self.cleaner = TextCleaner.from_tokenizer(tokenizer)
        self.rewarder = DenseRewarder(self.cfg, compute_score)
        self.num_examine = num_examine
        data_cfg = config.get("data") if config is not None else None
        self.reward_fn_key = (data_cfg or {}).get("reward_fn_key") or reward_fn_key

    def responses(self, data) -> list[Response]:
        """The rows of a verl DataProto (left-padded prompts, right-padded responses)."""
        prompt_ids, response_ids = data.batch["prompts"], data.batch["responses"]
        attn = data.batch["attention_mask"]
        P = prompt_ids.shape[1]
        nt = data.non_tensor_batch
        out = []
        for i in range(len(data)):
            vp, vr = int(attn[i, :P].sum()), int(attn[i, P:].sum())
            extra = dict(nt["extra_info"][i]) if "extra_info" in nt else {}
            rm = nt["reward_model"][i] if "reward_model" in nt else {}
            s = read_response(
                self.tokenizer,
                self.cleaner,
                prompt_ids[i, P - vp :],
                response_ids[i, :vr],
                extra,
                self.cfg,
            )
            s.answer = rm.get("ground_truth")
            s.data_source = str(nt[self.reward_fn_key][i]) if self.reward_fn_key in nt else ""
            s.extra_info = extra
            out.append(s)
        return out

    def __call__(self, data, return_dict: bool = False):
        """Older verl: the whole batch at once."""
        responses = self.responses(data)
        tensor, extra = self.rewarder.rewards(responses, data.batch["responses"].shape[1])
        for s, row in list(zip(responses, tensor))[: self.num_examine]:
            print("[prmkit problem]", s.problem)
            print("[prmkit steps]", s.steps)
            print("[prmkit step-end rewards]", [round(float(x), 4) for x in row[row != 0]])
        if return_dict:
            return {"reward_tensor": tensor, "reward_extra_info": extra}
        return tensor

    async def run_single(self, data) -> dict:
        """verl 0.9: one response (the last sequence of a multi-turn row), its token rewards
        as a list of response_length floats."""
        data = data[-1:]
        tensor, extra = self.rewarder.rewards(
            self.responses(data), data.batch["responses"].shape[1]
        )
        return {
            "reward_score": tensor[0].tolist(),
            "reward_extra_info": {k: v[0] for k, v in extra.items()},
        }

    @classmethod
    def assemble_rm_scores(cls, data, scores: list[list[float]]) -> torch.Tensor:
        """verl 0.9: the per-response token rewards as the (B, T) rm_scores tensor."""
        out = torch.tensor(scores, dtype=torch.float32)
        if out.shape != data.batch["responses"].shape:
            raise ValueError(
                f"token rewards {tuple(out.shape)} do not match the responses "
                f"{tuple(data.batch['responses'].shape)}"
            )
        return out
