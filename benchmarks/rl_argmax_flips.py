"""Why greedy accuracy can fall while sampled accuracy rises under RL: argmax flips.

Feeds the exact solver's solution of each held-out arithmetic problem to two built-in
policies (before and after RL) and compares, at every solution token, the probability
of the right token and whether it is the argmax. Sampled accuracy follows the first
(the mean probability); greedy accuracy dies at the first position whose argmax is
wrong, so a few flips at near-ties cost whole problems.

    python benchmarks/rl_argmax_flips.py --before runs/policy_noop20 \\
        --after runs/rl_hacking_noop20/outcome/seed0/policy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from prmkit.models.builtin import BuiltinPolicy  # noqa: E402
from prmkit.models.steps import render  # noqa: E402
from prmkit.worlds import arithmetic  # noqa: E402


@torch.no_grad()
def next_token_probs(policy: BuiltinPolicy, ids: list[int]) -> torch.Tensor:
    """(len(ids), V): row t is the distribution of token t + 1."""
    return policy.model(torch.tensor([ids]))[0].softmax(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="built-in policy before RL")
    ap.add_argument("--after", required=True, help="built-in policy after RL")
    ap.add_argument("--n", type=int, default=200, help="held-out problems")
    ap.add_argument(
        "--seed", type=int, default=10_000, help="problem seed (prmkit rl's held-out default)"
    )
    a = ap.parse_args()
    torch.set_num_threads(1)
    before, after = BuiltinPolicy.load(a.before), BuiltinPolicy.load(a.after)
    c = dict.fromkeys(("positions", "lost", "gained", "op_positions", "op_lost"), 0)
    c |= {"digit_positions": 0, "digit_lost": 0}
    mass_b = mass_a = 0.0
    for p in arithmetic.generate(a.n, seed=a.seed):
        steps = arithmetic.solve(p["prompt"])
        ids = before.prompt_ids(render(p["prompt"], steps, before.step_sep))
        start = len(before.prompt_ids(render(p["prompt"], [], before.step_sep)))
        pb, pa = next_token_probs(before, ids), next_token_probs(after, ids)
        for t in range(start, len(ids)):
            tok, ch = ids[t], before.tok.decode([ids[t]])
            right_b, right_a = int(pb[t - 1].argmax()) == tok, int(pa[t - 1].argmax()) == tok
            lost = right_b and not right_a
            c["positions"] += 1
            c["lost"] += lost
            c["gained"] += right_a and not right_b
            mass_b += float(pb[t - 1, tok])
            mass_a += float(pa[t - 1, tok])
            kind = "op" if ch in "+-*" else "digit" if ch.isdigit() else None
            if kind:
                c[f"{kind}_positions"] += 1
                c[f"{kind}_lost"] += lost
    n = c["positions"]
    print(
        f"{n} solution tokens: mean P(right token) {mass_b / n:.4f} -> {mass_a / n:.4f}; "
        f"argmax right -> wrong at {c['lost']} ({c['op_lost']} operators, {c['digit_lost']} "
        f"digits), wrong -> right at {c['gained']}",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "benchmark": "rl_argmax_flips",
                "before": a.before,
                "after": a.after,
                "problems": a.n,
                "mean_p_right_before": round(mass_b / n, 4),
                "mean_p_right_after": round(mass_a / n, 4),
            }
            | c
        )
    )


if __name__ == "__main__":
    main()
