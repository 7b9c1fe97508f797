"""Turns per second of the batched agent loop against one episode at a time, and with
the KV cache kept across turns against re-reading each episode every turn.

The same questions, the same policy and the same per-episode seeds, run three times in
one process: all episodes advancing together (one batched sampling call per turn,
each episode's KV cache kept across turns), the same without keeping the cache (each
turn re-reads the episode's text), then each episode on its own (with the cache).
Per-episode seeds make all runs sample the same trajectories, which the script checks.

    python benchmarks/agent_loop_bench.py --policy runs/agent [--episodes 64] [--threads 2]
    python benchmarks/agent_loop_bench.py --policy runs/agent --no-single   # cache only

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
    ap.add_argument(
        "--no-single", action="store_true", help="skip the one-at-a-time run (the slow one)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.policy:
        policy = BuiltinPolicy.load(args.policy)
    else:
        torch.manual_seed(0)
        policy = BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, 384, 3, 4, 128))
    agent = builtin_agent(policy, "toolqa", max_turns=10)
    no_cache = builtin_agent(policy, "toolqa", max_turns=10, kv_cache=False)
    d = toolqa.Difficulty(args.hops, args.hops, 0.5)
    prompts = [p["prompt"] for p in toolqa.generate(args.episodes, seed=7, difficulty=d)]
    seeds = list(range(args.episodes))
    run(agent, prompts[:4], seeds[:4], True, args.max_new_tokens)  # warm-up, not timed
    gb, tb = run(agent, prompts, seeds, True, args.max_new_tokens)
    gn, tn = run(no_cache, prompts, seeds, True, args.max_new_tokens)
    turns = sum(len(g.steps) for g in gb)
    solved = sum(
        toolqa.grade(p, str(toolqa.parse_prompt(p).target), g.steps).correct
        for p, g in zip(prompts, gb)
    )
    print(f"policy: {args.policy or 'untrained'}, {policy.model.n_params():,} parameters")
    print(f"episodes {args.episodes}, {args.hops} hops, threads {torch.get_num_threads()}")
    print(f"batched, KV cache kept : {turns / tb:8.1f} turns/s ({tb:.2f} s, {turns} turns)")
    rate_n = sum(len(g.steps) for g in gn) / tn
    same_n = sum(a.text == b.text for a, b in zip(gb, gn))
    print(f"batched, re-read       : {rate_n:8.1f} turns/s ({tn:.2f} s)")
    print(f"KV cache speed-up      : {(turns / tb) / rate_n:.2f}x (same: {same_n}/{len(gb)})")
    summary = {
        "bench": "agent_loop",
        "episodes": args.episodes,
        "turns": turns,
        "batched_turns_per_s": round(turns / tb, 1),
        "batched_no_kv_cache_turns_per_s": round(rate_n, 1),
        "kv_cache_speedup": round((turns / tb) / rate_n, 2),
        "same_trajectories_no_kv_cache": same_n,
        "success": round(solved / args.episodes, 3),
    }
    if not args.no_single:
        g1, t1 = run(agent, prompts, seeds, False, args.max_new_tokens)
        rate_1 = sum(len(g.steps) for g in g1) / t1
        same = sum(a.text == b.text for a, b in zip(gb, g1))
        print(f"one at a time          : {rate_1:8.1f} turns/s ({t1:.2f} s)")
        print(f"batching speed-up      : {(turns / tb) / rate_1:.1f}x (same: {same}/{len(gb)})")
        summary |= {
            "single_turns_per_s": round(rate_1, 1),
            "speedup": round((turns / tb) / rate_1, 2),
            "same_trajectories": same,
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
