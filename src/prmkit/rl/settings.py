"""What one RL run does: `RLSettings`, the trainer's settings (`prmkit rl`'s Config
extends it with its files), each field documented once, with its range and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.rl import credit
from prmkit.rl.step import TURN_CREDIT
from prmkit.worlds import get_world, token_budget

REWARDS = ("outcome", "prm", "prime", "pav", "oprl", "spa")
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
        "gate_threshold": "[0, 1]",
        "clip_beta": "[0, 1)",
        "spa_grounding": ">= 0",
        "pav_alpha": ">= 0",
        "pav_rollouts": ">= 1",
        "pav_best_of": ">= 1",
        "eval_every": ">= 1",
        "n_eval": ">= 0",
        "eval_samples": ">= 0",
        "seed": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    reward: Literal["outcome", "prm", "prime", "pav", "oprl", "spa"] = "prm"
    """outcome: the verifier's 0/1 only; prm: a PRM's step scores plus the outcome; prime: an online implicit PRM (PRIME); pav: each step's progress under a prover policy plus the outcome (Setlur et al. 2024; --credit does not apply); oprl: an implicit turn PRM learned online from outcome preferences (OPRL); spa: a progress estimator whose turn contributions sum to the outcome (SPA-RL)"""
    credit: Literal["sum", "min", "softmin", "clip", "delta", "shaping", "gated", "a2tgpo"] = "min"
    """how step (turn) rewards become per-step returns; gated: G-RA's outcome-gated sum; a2tgpo: turn-group normalised, rescaled accumulation (see docs/rl-credit.md, docs/rl-agents.md)"""
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
    max_new_tokens: int | None = None
    """most tokens per sampled solution; in toolqa, per episode (default: the world's: 96; toolqa 256)"""
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
    """beta of an implicit reward beta * log(pi_phi / pi_base): PRIME's, OPRL's and SPA's estimator"""
    prime_lr: float = 1e-4
    """learning rate of the online implicit PRM (PRIME, OPRL, SPA's estimator)"""
    gate_threshold: float = 1.0
    """credit gated: turn rewards count only in trajectories whose outcome is at least this (G-RA)"""
    clip_beta: float = 0.3
    """credit a2tgpo: a turn's PPO clip range is eps * (1 + beta (2 sigmoid(x_hat) - 1)) (acts with --epochs > 1)"""
    spa_grounding: float = 0.0
    """reward spa: weight of the grounding signal (1 when a turn's action was executable) added to each contribution"""
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

    def __post_init__(self) -> None:
        self.max_new_tokens = token_budget(self.world, self.max_new_tokens)

    def check(self) -> None:
        """Raise ValueError naming the setting (as its `prmkit rl` flag) that is wrong."""
        if self.reward not in REWARDS:
            raise ValueError(f"--reward must be one of {REWARDS}")
        if self.credit not in (*credit.CREDIT, *TURN_CREDIT):
            raise ValueError(f"--credit must be one of {sorted((*credit.CREDIT, *TURN_CREDIT))}")
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
        if self.credit in TURN_CREDIT and self.reward in ("outcome", "pav"):
            raise ValueError(
                f"--credit {self.credit} needs turn rewards (--reward prm, prime, oprl or spa)"
            )
        if self.spa_grounding and (self.reward != "spa" or self.world != "toolqa"):
            raise ValueError("--spa-grounding applies to --reward spa in an agent world only")
        get_world(self.world)
