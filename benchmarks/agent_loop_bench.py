"""Turns per second of the batched agent loop against one episode at a time.

The same questions, the same policy and the same per-episode seeds, run twice in one
process: all episodes advancing together (one batched sampling call per turn), then
each episode on its own. Per-episode seeds make both runs sample the same
trajectories, which the script checks.

    python benchmarks/agent_loop_bench.py --policy runs/agent [--episodes 64] [--threads 2]

Without --policy it uses a fresh (untrained) GPT of the default agent size: its
actions are mostly malformed, but every turn still costs a sampling call and an
environment answer.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from prmkit.agents.builtin import builtin_agent
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import toolqa


def run(agent, prompts: list[str], seeds: list[int], batched: bool, max_new: int):
    t0 = time.perf_counter()
    if batched:
        params = SamplingParams(n=1, max_new_tokens=max_new, seeds=seeds)
        gens = [g[0] for g in agent.generate(prompts, params)]
    else:
        gens = [
            agent.generate([p], SamplingParams(n=1, max_new_tokens=max_new, seeds=[s]))[0][0]
            for p, s in zip(prompts, seeds)
        ]
    return gens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=None, help="an `agent train` checkpoint")
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--hops", type=int, default=3, help="get calls per question")
    ap.add_argument(
        "--max-new-tokens", type=int, default=256, help="most policy tokens per episode"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.policy:
        policy = BuiltinPolicy.load(args.policy)
    else:
        torch.manual_seed(0)
        policy = BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, 384, 3, 4, 128))
    agent = builtin_agent(policy, "toolqa", max_turns=10)
    d = toolqa.Difficulty(args.hops, args.hops, 0.5)
    prompts = [p["prompt"] for p in toolqa.generate(args.episodes, seed=7, difficulty=d)]
    seeds = list(range(args.episodes))
    gb, tb = run(agent, prompts, seeds, True, args.max_new_tokens)
    g1, t1 = run(agent, prompts, seeds, False, args.max_new_tokens)
    turns = sum(len(g.steps) for g in gb)
    same = sum(a.text == b.text for a, b in zip(gb, g1))
    solved = sum(
        toolqa.grade(p, str(toolqa.parse_prompt(p).target), g.steps).correct
        for p, g in zip(prompts, gb)
    )
    print(f"policy: {args.policy or 'untrained'}, {policy.model.n_params():,} parameters")
    print(f"episodes {args.episodes}, {args.hops} hops, threads {torch.get_num_threads()}")
    print(f"batched      : {turns / tb:8.1f} turns/s ({tb:.2f} s, {turns} turns)")
    print(f"one at a time: {sum(len(g.steps) for g in g1) / t1:8.1f} turns/s ({t1:.2f} s)")
    rate = (turns / tb) / (sum(len(g.steps) for g in g1) / t1)
    print(f"speed-up     : {rate:.1f}x (same trajectories: {same}/{args.episodes})")
    print(
        json.dumps(
            {
                "bench": "agent_loop",
                "episodes": args.episodes,
                "turns": turns,
                "batched_turns_per_s": round(turns / tb, 1),
                "single_turns_per_s": round(sum(len(g.steps) for g in g1) / t1, 1),
                "speedup": round((turns / tb) / (sum(len(g.steps) for g in g1) / t1), 2),
                "same_trajectories": same,
                "success": round(solved / args.episodes, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
