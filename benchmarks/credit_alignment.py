"""How well each credit method's policy gradient points where accuracy improves.

Sample efficiency in RL comes down to the direction of each update. This script
measures it without training: it estimates the gradient of expected accuracy with a
large outcome-only batch (the reference; REINFORCE with a group baseline is an
unbiased estimate of it), then draws `--batches` ordinary RL batches and computes,
from the same rollouts, the policy gradient each setting would step along. It reports
the cosine between each setting's gradient and the reference: the higher, the more of
each step goes into raising accuracy. The settings share their rollouts, so the
comparison is paired.

A gradient here is that of the trainer's loss, -sum_t A_t log pi(a_t) / n_tokens,
with A_t from `prmkit.rl.advantages.mixed_advantages`, the trainer's own function.

    python benchmarks/credit_alignment.py --policy runs/policy --prm rule local-rule
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from tqdm import tqdm

from prmkit.data import InputError, Problem
from prmkit.prm.base import load_scorer
from prmkit.rl import advantages as adv
from prmkit.rl import credit
from prmkit.rl.rollout import token_logprobs
from prmkit.rl.trainer import RLSettings, RLTrainer, prm_step_rewards
from prmkit.worlds import arithmetic


def flat_grad(trainer: RLTrainer, batch, A: torch.Tensor) -> torch.Tensor:
    """The gradient of -sum_t A_t log pi(a_t) / n_tokens over the policy's weights."""
    model = trainer.model
    logp = token_logprobs(trainer.adapter, model, batch)
    mask = batch.token_mask
    loss = -(A * logp)[mask].sum() / mask.sum()
    grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
    return torch.cat([g.reshape(-1) for g in grads])


def advantages(setting: str, scorer, rolls, batch, s: RLSettings) -> torch.Tensor:
    """(B, T) token advantages of `setting` ('outcome' or 'CREDIT') on these rollouts."""
    outcome = torch.tensor([float(r.correct) for r in rolls])
    G = None
    if setting != "outcome":
        _, r = prm_step_rewards(scorer, rolls, batch.step_mask, s.prm_scale)
        G = credit.step_returns(setting, r, batch.step_mask, credit.CreditParams())
    return adv.mixed_advantages(
        batch.token_step, outcome, G, batch.step_mask, s.group_size, s.advantage,
        s.w_outcome, s.w_process,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--policy", required=True, help="a prmkit policy checkpoint")
    ap.add_argument("--prm", nargs="+", default=["rule", "local-rule"], help="PRMs to try")
    ap.add_argument(
        "--credit",
        nargs="+",
        default=["min", "sum"],
        choices=sorted(credit.CREDIT),
        help="credit methods to try",
    )
    ap.add_argument("--batches", type=int, default=8, help="RL batches to compare on")
    ap.add_argument("--prompts-per-step", type=int, default=16)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--ref-prompts", type=int, default=256, help="prompts of the reference")
    ap.add_argument("--ref-group-size", type=int, default=16)
    ap.add_argument("--w-outcome", type=float, default=0.5)
    ap.add_argument("--w-process", type=float, default=0.5)
    ap.add_argument("--problems", type=int, default=2000, help="generated training problems")
    ap.add_argument(
        "--seed", type=int, default=0, help="seeds the problems, the reference and the batches"
    )
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    t0 = time.time()

    from prmkit.models.load import load_generator

    try:  # a user's mistake (no such policy or PRM) is one line, not a traceback
        policy = load_generator(args.policy)
        scorers = {p: load_scorer(p) for p in args.prm}
    except InputError as e:
        ap.error(str(e))
    problems = [Problem.from_dict(d) for d in arithmetic.generate(args.problems, seed=args.seed)]

    # The reference: the accuracy gradient from a large outcome-only batch, in chunks.
    # Its two halves (alternate chunks) give a split-half cosine: how far the reference
    # itself is from noise-free, which bounds every setting's cosine below 1.
    halves, ref_right, ref_n = [torch.zeros(0), torch.zeros(0)], 0, 0
    chunk = 32
    for i in tqdm(range(0, args.ref_prompts, chunk), desc="reference", leave=False):
        s = RLSettings(reward="outcome", prompts_per_step=min(chunk, args.ref_prompts - i),
                       group_size=args.ref_group_size, seed=args.seed + 1000 + i)  # fmt: skip
        tr = RLTrainer(policy, s)
        rolls, batch = tr.sample(problems, 1)
        ref_right, ref_n = ref_right + sum(r.correct for r in rolls), ref_n + len(rolls)
        g = flat_grad(tr, batch, advantages("outcome", None, rolls, batch, s)) * s.prompts_per_step
        h = (i // chunk) % 2
        halves[h] = g if halves[h].numel() == 0 else halves[h] + g
    ref = halves[0] + halves[1] if halves[1].numel() else halves[0]
    split_half = (
        round(float(torch.nn.functional.cosine_similarity(*halves, dim=0)), 4)
        if halves[1].numel()
        else None
    )
    ref_acc = round(ref_right / ref_n, 4)

    settings = ["outcome"] + [f"{c}:{p}" for p in args.prm for c in args.credit]
    cos: dict[str, list[float]] = {k: [] for k in settings}
    accs = []
    s = RLSettings(reward="outcome", prompts_per_step=args.prompts_per_step,
                   group_size=args.group_size, w_outcome=args.w_outcome,
                   w_process=args.w_process, seed=args.seed)  # fmt: skip
    tr = RLTrainer(policy, s)
    for b in tqdm(range(args.batches), desc="batches", leave=False):
        rolls, batch = tr.sample(problems, b + 1)
        accs.append(sum(r.correct for r in rolls) / len(rolls))
        for k in settings:
            c, _, p = k.partition(":")
            A = advantages(c, scorers.get(p), rolls, batch, s)
            g = flat_grad(tr, batch, A)
            cos[k].append(float(torch.nn.functional.cosine_similarity(g, ref, dim=0)))

    def stats(xs: list[float]) -> tuple[float, float]:
        m = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / max(len(xs) - 1, 1))
        return m, sd

    print(f"policy {args.policy}: sampled accuracy {sum(accs) / len(accs):.3f}; "
          f"reference {args.ref_prompts} x {args.ref_group_size} outcome-only; "
          f"{args.batches} batches of {args.prompts_per_step} x {args.group_size}; "
          f"PRM settings mixed {args.w_outcome}/{args.w_process} with the outcome; "
          f"the reference's split-half cosine {split_half}")  # fmt: skip
    print("| setting | cosine to the accuracy gradient (mean ± sd over batches) | vs outcome |")
    print("|---|---|---|")
    base = stats(cos["outcome"])[0]
    for k in settings:
        m, sd = stats(cos[k])
        print(f"| {k} | {m:.4f} ± {sd:.4f} | {m / base:.2f}x |")
    summary = {k: round(stats(v)[0], 4) for k, v in cos.items()}
    print(json.dumps({"benchmark": "credit_alignment", "policy": args.policy,
                      "accuracy": round(sum(accs) / len(accs), 4), "cosine": summary,
                      "ref_acc": ref_acc, "split_half": split_half,
                      "seconds": round(time.time() - t0, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
