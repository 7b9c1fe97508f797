"""GRPO / RLOO with token-level credit from process rewards, for any prmkit policy.

One loop for the built-in GPT and local Hugging Face causal LMs (through
`prmkit.rl.rollout.PolicyAdapter`). Each RL step:

1. sample `group_size` solutions for each of `prompts_per_step` training problems;
2. grade them exactly with the world's grader (the outcome reward, no-op steps);
3. reward: `outcome` (0/1 only), `prm` (a `StepScorer`'s per-step scores turned into
   per-step returns by a credit method of `prmkit.rl.credit`, plus the outcome),
   `prime` (an online implicit PRM, `prmkit.rl.prime`), `pav` (each step's progress
   under a prover policy, Monte Carlo, `prmkit.rl.pav`), or `oprl` / `spa` (online
   turn-level reward models, `prmkit.rl.turn_prm`); credit methods of
   `prmkit.rl.credit` or `prmkit.rl.turn_credit` (gated, a2tgpo);
4. optionally filter: PRIME's accuracy band or PROF-style selection;
5. baseline per group (GRPO or RLOO), spread over tokens: A_t = w_o A^o + w_p A^p_step(t);
6. one or more clipped policy-gradient steps (PPO's ratio clip; with one epoch this is
   the plain policy gradient), token-mean loss, optional k3 KL to the frozen start.

Every step appends a line to `metrics.jsonl`: accuracy, mean reward, steps per
solution, no-op / repeated step fractions, KL, entropy and more.

Multi-turn agents (`prmkit.rl.agent.TurnRLTrainer`) replace the sampling stage only.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path

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
from prmkit.rl.settings import RLSettings
from prmkit.rl.step import (
    Rewards,
    Update,
    clip_ranges,
    credit_returns,
    k3,
    policy_loss,
    resolve_filter,
    select_samples,
    should_learn,
    step_metrics,
    token_advantages,
)
from prmkit.rl.turn_prm import OnlineTurnPRM
from prmkit.schedule import set_lr, warmup_cosine
from prmkit.worlds import get_world


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
        self.prime = (
            OnlineImplicitPRM(self.adapter, self.ref, settings.prime_beta, settings.prime_lr)
            if settings.reward == "prime"
            else None
        )
        self.online = (
            OnlineTurnPRM(
                self.adapter,
                settings.reward,
                settings.prime_beta,
                settings.prime_lr,
                settings.group_size,
            )
            if settings.reward in ("oprl", "spa")
            else None
        )
        self.generator = policy  # what samples and is evaluated (an agent wraps the policy)
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

    def state_modules(self) -> tuple[dict, dict]:
        """The modules and optimizers a checkpoint holds: the policy's and an online PRM's."""
        mods, opts = {"policy": self.model}, {"policy": self.opt}
        for name, m in (("prime", self.prime), ("online", self.online)):
            if m is not None:
                mods[name], opts[name] = m.phi, m.opt
        return mods, opts

    def grounding(self, rolls: list[Rollout], K: int) -> torch.Tensor | None:
        """(B, K) SPA's grounding signal; a single-pass world has none."""
        return None

    def extra_metrics(self, rolls: list[Rollout]) -> dict:
        """Figures of the rollouts that a kind of trainer adds to each metrics row."""
        return {}

    def rewards(self, rolls: list[Rollout], batch: Batch, outcome, logp_ref, step=0) -> Rewards:
        """Stage 1: step rewards and per-step returns of the process source (an online
        PRM is updated here, on this batch: PRIME's after, OPRL's and SPA's before it scores it)."""
        s, K, mask = self.s, batch.step_mask.shape[1], batch.step_mask
        if s.reward == "pav":  # step rewards are the prover's advantages, used as they are
            prog, metrics = self.pav.progress(rolls, batch.step_mask, s.seed * 1_000_003 + step)
            return Rewards(prog, metrics=metrics)
        if s.reward == "prm":
            probs, step_r = prm_step_rewards(self.scorer, rolls, mask, s.prm_scale)
            G, clip = credit_returns(s, step_r, mask, outcome)
            return Rewards(step_r, G, None, {"prm_mean": float(probs[mask].mean())}, clip)
        if s.reward == "prime":
            tok_r = self.prime.token_rewards(batch, logp_ref)
            metrics = {"prm_loss": self.prime.update(batch, outcome, logp_ref)}
            metrics["implicit_reward_mean"] = float(tok_r.sum(1).mean())
            step_r = step_sums(tok_r, batch.token_step, K)
            G, clip = None, None
            if s.credit != "sum":
                G, clip = credit_returns(s, step_r, mask, outcome)
            return Rewards(step_r, G, tok_r, metrics, clip)
        if self.online is not None:
            if s.reward == "oprl":  # OPRL's base: pi_old, the policy that sampled the batch
                with torch.no_grad():
                    base = token_logprobs(self.adapter, self.model, batch)
            else:
                base = logp_ref
            g = self.grounding(rolls, K) if s.spa_grounding else None
            step_r, metrics = self.online.step(batch, outcome, base, g, s.spa_grounding)
            G, clip = credit_returns(s, step_r, mask, outcome)
            return Rewards(step_r, G, None, metrics, clip)
        return Rewards()

    def update(self, batch: Batch, A, keep, logp_ref, step: int, clip_scale=None) -> Update:
        """Stage 4: `epochs` clipped policy-gradient steps on the kept samples' tokens
        (clip_scale: (B, K) A^2TGPO's per-step factors of the clip range, or None)."""
        s = self.s
        mask = batch.token_mask & keep[:, None]
        clip = clip_ranges(s.clip_ratio, clip_scale, batch.token_step)
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
            loss = policy_loss(logp, old, logp_ref, A, mask, clip, s.kl_coef)
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
        upd = self.update(batch, A, keep, logp_ref, step, rewards.clip_scale)
        metrics = step_metrics(step, rolls, batch, outcome, rewards, keep, upd, s)
        return metrics | self.extra_metrics(rolls) | {"seconds": round(time.time() - t0, 3)}


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
    trainer_cls: type | None = None,
) -> tuple[object, list[dict]]:
    """Run `settings.steps` RL steps; returns the (updated in place) policy and the metric rows.

    With out_dir, every step is appended to out_dir/metrics.jsonl as it completes, a
    checkpoint is written every `save_every` steps and `resume` continues from it
    (models/train_state.py). prover: the Generator whose progress `pav` rewards.
    trainer_cls: RLTrainer (default) or a subclass that samples otherwise
    (`prmkit.rl.agent.TurnRLTrainer` for multi-turn agents).
    """
    tr = (trainer_cls or RLTrainer)(policy, settings, scorer, prover)
    state = None
    start = 0
    if out_dir is not None:
        state = TrainState(out_dir, asdict(settings), save_every, resume)
        start = state.start(*tr.state_modules(), tr.rng)
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
        log({"step": 0} | evaluate(tr.generator, eval_problems, **ev_kw))
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
            m |= evaluate(tr.generator, eval_problems, **ev_kw)
        log(m)
        if state:
            state.step_done(i)
        bar.set_postfix(acc=m["accuracy"], steps=m["steps_per_solution"], noop=m["noop_frac"])
    if out_dir is not None:
        (Path(out_dir) / "settings.json").write_text(json.dumps(asdict(settings), indent=2) + "\n")
    return policy, rows
