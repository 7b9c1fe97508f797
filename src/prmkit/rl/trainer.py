"""GRPO / RLOO with token-level credit from process rewards, for any prmkit policy.

One loop for the built-in GPT and local Hugging Face causal LMs (through
`prmkit.rl.rollout.PolicyAdapter`). Each RL step:

1. sample `group_size` solutions for each of `prompts_per_step` training problems;
2. grade them exactly with the world's grader (the outcome reward, no-op steps);
3. reward: `outcome` (0/1 only), `prm` (a `StepScorer`'s per-step scores turned into
   per-step returns by a credit method of `prmkit.rl.credit`, plus the outcome),
   `prime` (an online implicit PRM, `prmkit.rl.prime`) or `pav` (each step's progress
   under a prover policy, Monte Carlo, `prmkit.rl.pav`);
4. optionally filter: PRIME's accuracy band or PROF-style selection;
5. baseline per group (GRPO or RLOO), spread over tokens: A_t = w_o A^o + w_p A^p_step(t);
6. one or more clipped policy-gradient steps (PPO's ratio clip; with one epoch this is
   the plain policy gradient), token-mean loss, optional k3 KL to the frozen start.

Every step appends a line to `metrics.jsonl`: accuracy, mean reward, steps per
solution, no-op / repeated step fractions, KL, entropy and more.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from tqdm import tqdm

from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.reproducible import clip_grad_norm_
from prmkit.models.train_state import TrainState
from prmkit.prm.implicit import step_sums
from prmkit.rl import credit
from prmkit.rl.pav import ProverValues
from prmkit.rl.prime import OnlineImplicitPRM
from prmkit.rl.report import evaluate
from prmkit.rl.rollout import (
    Batch,
    PolicyAdapter,
    Rollout,
    make_batch,
    make_rollouts,
    token_logprobs,
)
from prmkit.rl.step import (
    Rewards,
    Update,
    k3,
    policy_loss,
    resolve_filter,
    select_samples,
    should_learn,
    step_metrics,
    token_advantages,
)
from prmkit.schedule import set_lr, warmup_cosine
from prmkit.worlds import get_world

REWARDS = ("outcome", "prm", "prime", "pav")
FILTERS = ("auto", "none", "band", "prof")


@dataclass
class RLSettings:
    """What one RL run does; `prmkit rl`'s Config adds where its inputs and outputs are."""

    RANGES: ClassVar[dict[str, str]] = {
        "steps": ">= 1",
        "prompts_per_step": ">= 1",
        "group_size": ">= 2",
        "lr": "> 0",
        "warmup": ">= 0",
        "kl_coef": ">= 0",
        "epochs": ">= 1",
        "clip_ratio": "> 0",
        "max_new_tokens": ">= 1",
        "temperature": "> 0",
        "w_outcome": ">= 0",
        "w_process": ">= 0",
        "gamma": "[0, 1]",
        "softmin_temperature": "> 0",
        "clip_eta": "any",
        "phi0": "any",
        "band_low": "[0, 1]",
        "band_high": "[0, 1]",
        "prof_keep": ">= 1",
        "prime_beta": "> 0",
        "prime_lr": "> 0",
        "pav_alpha": ">= 0",
        "pav_rollouts": ">= 1",
        "pav_best_of": ">= 1",
        "eval_every": ">= 1",
        "n_eval": ">= 0",
        "eval_samples": ">= 0",
        "seed": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    reward: Literal["outcome", "prm", "prime", "pav"] = "prm"
    """outcome: the verifier's 0/1 only; prm: a PRM's step scores plus the outcome; prime: an online implicit PRM (PRIME); pav: each step's progress under a prover policy plus the outcome (Setlur et al. 2024; --credit does not apply)"""
    credit: Literal["sum", "min", "softmin", "clip", "delta", "shaping"] = "min"
    """how step rewards become per-step returns (see docs/rl-*.md)"""
    advantage: Literal["grpo", "rloo"] = "grpo"
    """group baseline: GRPO (mean and std) or RLOO (leave-one-out)"""
    steps: int = 100
    """RL steps (one batch of rollouts and one update each)"""
    prompts_per_step: int = 16
    """problems per RL step"""
    group_size: int = 8
    """samples per problem (the group of the baseline)"""
    lr: float = 1e-4
    """policy learning rate (AdamW)"""
    warmup: int = 10
    """RL steps of linear learning-rate warm-up"""
    kl_coef: float = 0.0
    """weight of the k3 KL penalty to the starting policy (0 = none; KL is logged anyway)"""
    epochs: int = 1
    """optimisation passes over each batch (more than 1 uses PPO's ratio clipping)"""
    clip_ratio: float = 0.2
    """PPO ratio clip, used when --epochs > 1"""
    max_new_tokens: int = 96
    """most tokens per sampled solution"""
    temperature: float = 1.0
    """sampling temperature for rollouts"""
    w_outcome: float = 1.0
    """weight of the outcome advantage in the mixture"""
    w_process: float = 1.0
    """weight of the process advantage in the mixture"""
    prm_scale: Literal["prob", "signed"] = "prob"
    """step reward from a PRM probability p: p itself, or 2p - 1 (PURE's signed reward)"""
    gamma: float = 1.0
    """discount between steps (sum, clip, delta, shaping; token discount for prime)"""
    softmin_temperature: float = 0.1
    """temperature of PURE's softmin weights (credit softmin)"""
    clip_eta: float = 1.0
    """threshold eta of Gao et al.'s Clip: a step earns min(r - eta, 0)"""
    phi0: float = 0.0
    """potential of the bare prompt for potential-based shaping"""
    filter: Literal["auto", "none", "band", "prof"] = "auto"
    """which rollouts to learn from: band (PRIME's accuracy band), prof (PROF-style); auto = band for prime, none otherwise"""
    band_low: float = 0.2
    """lowest group accuracy kept by the band filter"""
    band_high: float = 0.8
    """highest group accuracy kept by the band filter"""
    prof_keep: int = 4
    """samples kept per group by the prof filter"""
    prime_beta: float = 0.05
    """beta of PRIME's implicit reward beta * log(pi_phi / pi_ref)"""
    prime_lr: float = 1e-4
    """learning rate of PRIME's implicit PRM"""
    pav_alpha: float = 1.0
    """weight alpha of the progress term in PAV's effective reward w_o A^outcome + alpha A^prover"""
    pav_rollouts: int = 4
    """prover completions per prefix to estimate its success chance (pav)"""
    pav_best_of: int = 1
    """the prover is Best-of-K of the prover policy: success 1 - (1 - V)^K from its own V (pav; 1 = the policy itself)"""
    eval_every: int = 10
    """evaluate every this many RL steps"""
    n_eval: int = 100
    """how many held-out problems to evaluate on (0 = none)"""
    eval_samples: int = 4
    """besides greedy decoding, sample this many solutions per held-out problem (0 = greedy only)"""
    seed: int = 0
    """random seed (sampling, problem order)"""
    world: str = "arithmetic"
    """world whose grader gives the outcome reward and counts no-op steps"""

    def check(self) -> None:
        """Raise ValueError naming the setting (as its `prmkit rl` flag) that is wrong."""
        if self.reward not in REWARDS:
            raise ValueError(f"--reward must be one of {REWARDS}")
        if self.credit not in credit.CREDIT:
            raise ValueError(f"--credit must be one of {sorted(credit.CREDIT)}")
        if self.advantage not in ("grpo", "rloo"):
            raise ValueError("--advantage must be grpo or rloo")
        if self.filter not in FILTERS:
            raise ValueError(f"--filter must be one of {FILTERS}")
        if self.prm_scale not in ("prob", "signed"):
            raise ValueError("--prm-scale must be prob or signed")
        if self.group_size < 2:
            raise ValueError("--group-size must be at least 2 (the baseline is per group)")
        if self.filter == "prof" and not 2 <= self.prof_keep <= self.group_size:
            raise ValueError("--prof-keep must lie in 2..--group-size")
        if self.filter == "prof" and self.reward == "outcome":
            raise ValueError("--filter prof needs process rewards (--reward prm or prime)")
        if self.steps < 1 or self.prompts_per_step < 1 or self.epochs < 1:
            raise ValueError("--steps, --prompts-per-step and --epochs must be at least 1")
        if not 0 <= self.band_low <= self.band_high <= 1:
            raise ValueError("need 0 <= --band-low <= --band-high <= 1")
        if self.temperature <= 0:
            raise ValueError("--temperature must be positive for RL sampling")
        get_world(self.world)


def prm_step_scores(scorer, rollouts, K: int) -> torch.Tensor:
    """(B, K) step scores of a `StepScorer` for these rollouts, 0 past each one's steps."""
    vals = scorer.score([(r.prompt, r.steps) for r in rollouts])
    out = torch.zeros((len(rollouts), K))
    for b, (v, r) in enumerate(zip(vals, rollouts)):
        if len(v) != len(r.steps):
            raise ValueError(f"PRM returned {len(v)} scores for {len(r.steps)} steps")
        if v:
            out[b, : len(v)] = torch.tensor(v, dtype=torch.float32)
    return out


def prm_step_rewards(
    scorer, rollouts, step_mask: torch.Tensor, prm_scale: str = "prob"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A StepScorer's scores p and the step rewards that credit methods read.

    step_mask: (B, K). Returns (p, r), both (B, K): r is p, or 2p - 1 with
    prm_scale "signed" (PURE's reward), and 0 at padding either way.
    """
    probs = prm_step_scores(scorer, rollouts, step_mask.shape[1])
    r = credit.signed(probs) if prm_scale == "signed" else probs
    return probs, torch.where(step_mask, r, 0.0)


class RLTrainer:
    """Holds the policy, its frozen reference, the optimizer and (PRIME) the implicit PRM."""

    def __init__(self, policy, settings: RLSettings, scorer=None, prover=None) -> None:
        settings.check()
        if settings.reward == "prm" and scorer is None:
            raise ValueError("reward 'prm' needs a StepScorer")
        if settings.reward == "pav" and prover is None:
            raise ValueError("reward 'pav' needs a prover policy")
        self.s = settings
        self.policy = policy
        self.adapter = PolicyAdapter(policy)
        self.scorer = scorer
        self.world = get_world(settings.world)
        self.ref = self.adapter.frozen_copy()
        self.model = self.adapter.model
        self.model.eval()  # no dropout in RL: the sampled log-probs must be the trained ones
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=0.0
        )
        self.cparams = credit.CreditParams(
            settings.gamma, settings.softmin_temperature, settings.clip_eta, settings.phi0
        )
        self.prime = (
            OnlineImplicitPRM(self.adapter, self.ref, settings.prime_beta, settings.prime_lr)
            if settings.reward == "prime"
            else None
        )
        s = settings
        self.pav = s.reward == "pav" and ProverValues(
            prover, s.pav_rollouts, s.max_new_tokens, s.temperature, s.pav_best_of, s.world
        )
        self.rng = random.Random(settings.seed)
        torch.manual_seed(settings.seed)

    def _budget(self, prompts: list[str]) -> int:
        if self.adapter.max_len is None:
            return self.s.max_new_tokens
        longest = max(len(self.adapter.prompt_ids(p + self.adapter.step_sep)) for p in prompts)
        return max(1, min(self.s.max_new_tokens, self.adapter.max_len - longest))

    def sample(self, problems: list, step: int) -> tuple[list[Rollout], Batch]:
        """Draw `prompts_per_step` problems, `group_size` graded solutions of each."""
        s = self.s
        batch_p = [self.rng.choice(problems) for _ in range(s.prompts_per_step)]
        params = SamplingParams(
            n=s.group_size,
            max_new_tokens=self._budget([p.prompt for p in batch_p]),
            temperature=s.temperature,
            seed=s.seed * 1_000_003 + step,
        )
        gens = continue_steps(self.policy, [(p.prompt, []) for p in batch_p], params)
        rolls = make_rollouts(self.adapter, batch_p, gens, self.world)
        return rolls, make_batch(self.adapter, rolls)

    def rewards(self, rolls: list[Rollout], batch: Batch, outcome, logp_ref, step=0) -> Rewards:
        """Stage 1: step rewards and per-step returns of the process source (PRIME's
        implicit PRM is updated here, on this batch, before it scores it)."""
        s, K = self.s, batch.step_mask.shape[1]
        if s.reward == "pav":  # step rewards are the prover's advantages, used as they are
            prog, metrics = self.pav.progress(rolls, batch.step_mask, s.seed * 1_000_003 + step)
            return Rewards(prog, metrics=metrics)
        if s.reward == "prm":
            probs, step_r = prm_step_rewards(self.scorer, rolls, batch.step_mask, s.prm_scale)
            G = credit.step_returns(s.credit, step_r, batch.step_mask, self.cparams)
            return Rewards(step_r, G, metrics={"prm_mean": float(probs[batch.step_mask].mean())})
        if s.reward == "prime":
            tok_r = self.prime.token_rewards(batch, logp_ref)
            metrics = {"prm_loss": self.prime.update(batch, outcome, logp_ref)}
            metrics["implicit_reward_mean"] = float(tok_r.sum(1).mean())
            step_r = step_sums(tok_r, batch.token_step, K)
            G = None
            if s.credit != "sum":
                G = credit.step_returns(s.credit, step_r, batch.step_mask, self.cparams)
            return Rewards(step_r, G, tok_r, metrics)
        return Rewards()

    def update(self, batch: Batch, A, keep, logp_ref, step: int) -> Update:
        """Stage 4: `epochs` clipped policy-gradient steps on the kept samples' tokens."""
        s = self.s
        mask = batch.token_mask & keep[:, None]
        learn = should_learn(A, mask, s.kl_coef)
        out, old = Update(learned=learn), None
        for _ in range(s.epochs):
            with torch.set_grad_enabled(learn):
                logp, ent = token_logprobs(self.adapter, self.model, batch, with_entropy=True)
            if old is None:
                old = logp.detach()
                out.kl = float(k3(old, logp_ref)[batch.token_mask].mean())
                out.entropy = float(ent.detach()[batch.token_mask].mean())
            if not learn:
                break
            loss = policy_loss(logp, old, logp_ref, A, mask, s.clip_ratio, s.kl_coef)
            set_lr(self.opt, warmup_cosine(step - 1, s.lr, s.warmup))  # steps count from 1
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            out.grad_norm = float(clip_grad_norm_(self.model.parameters(), 1.0))
            self.opt.step()
            out.loss = float(loss.detach())
        return out

    def step(self, problems: list, step: int) -> dict:
        """One RL step: sample, reward, filter, advantages, update, metrics."""
        s, t0 = self.s, time.time()
        rolls, batch = self.sample(problems, step)
        outcome = torch.tensor([float(r.correct) for r in rolls])
        with torch.no_grad():
            logp_ref = token_logprobs(self.adapter, self.ref, batch)
        rewards = self.rewards(rolls, batch, outcome, logp_ref, step)
        keep, group_n = select_samples(
            resolve_filter(s.filter, s.reward),
            outcome,
            rewards.step_r,
            batch.step_mask,
            s.group_size,
            (s.band_low, s.band_high),
            s.prof_keep,
        )
        A = token_advantages(batch, outcome, rewards, keep, group_n, s)
        upd = self.update(batch, A, keep, logp_ref, step)
        metrics = step_metrics(step, rolls, batch, outcome, rewards, keep, upd, s)
        return metrics | {"seconds": round(time.time() - t0, 3)}


def train_rl(
    policy,
    problems: list,
    settings: RLSettings,
    scorer=None,
    eval_problems: list | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    save_every: int = 0,
    resume: bool = False,
    prover=None,
) -> tuple[object, list[dict]]:
    """Run `settings.steps` RL steps; returns the (updated in place) policy and the metric rows.

    With out_dir, every step is appended to out_dir/metrics.jsonl as it completes, a
    checkpoint is written every `save_every` steps and `resume` continues from it
    (models/train_state.py). prover: the Generator whose progress `pav` rewards.
    """
    tr = RLTrainer(policy, settings, scorer, prover)
    state = None
    start = 0
    if out_dir is not None:
        state = TrainState(out_dir, asdict(settings), save_every, resume)
        with_prime = tr.prime is not None
        start = state.start(
            {"policy": tr.model} | ({"prime": tr.prime.phi} if with_prime else {}),
            {"policy": tr.opt} | ({"prime": tr.prime.opt} if with_prime else {}),
            tr.rng,
        )
    rows = state.rows if state else []
    log = state.log if state else rows.append
    ev_kw = dict(
        world=tr.world,
        n_problems=settings.n_eval,
        max_new_tokens=settings.max_new_tokens,
        seed=settings.seed,
        n_samples=settings.eval_samples,
        temperature=settings.temperature,
    )
    if eval_problems and settings.eval_every > 0 and start == 0:
        log({"step": 0} | evaluate(policy, eval_problems, **ev_kw))
    bar = tqdm(
        range(start + 1, settings.steps + 1),
        desc=f"rl {settings.reward}/{settings.credit}",
        disable=not progress,
        leave=False,
    )
    for i in bar:
        m = tr.step(problems, i)
        if (
            eval_problems
            and settings.eval_every > 0
            and (i % settings.eval_every == 0 or i == settings.steps)
        ):
            m |= evaluate(policy, eval_problems, **ev_kw)
        log(m)
        if state:
            state.step_done(i)
        bar.set_postfix(acc=m["accuracy"], steps=m["steps_per_solution"], noop=m["noop_frac"])
    if out_dir is not None:
        (Path(out_dir) / "settings.json").write_text(json.dumps(asdict(settings), indent=2) + "\n")
    return policy, rows
