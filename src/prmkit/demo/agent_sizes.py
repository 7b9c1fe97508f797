"""How big each stage of the agent track is: `--quick` (a smoke run for the tests) and
the full track (measured in docs/demo-agent.md)."""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.demo.context import Context


@dataclass(frozen=True)
class AgentSizes:
    """How big each stage of the agent track is."""

    train_questions: int
    """questions the agent is trained on (and whose episodes train the PRM)"""
    test_questions: int
    """held-out questions: the agent's success, the PRM's test episodes, search"""
    min_hops: int
    """fewest `get` calls per question"""
    max_hops: int
    """most `get` calls per question"""
    sft_steps: int
    """agent SFT steps of 32 trajectories"""
    sft_lr: float
    """agent SFT peak learning rate (6e-3 lets the small agent learn to copy ids within
    the budget: at 3e-3 its loss was 0.34 after 1,000 steps and 0.09 after 2,000; at 6e-3,
    0.09 after 1,500)"""
    d_model: int
    """agent width"""
    n_layer: int
    """agent blocks"""
    block_size: int
    """longest episode in characters, for the agent and the PRM"""
    max_turns: int
    """most turns per episode"""
    max_new_tokens: int
    """most agent tokens per episode"""
    held_out_n: int
    """episodes per held-out question: the success rate and the PRM's test set"""
    prm_questions: int
    """training questions whose episodes are labeled for the PRM"""
    prm_n: int
    """episodes per such question"""
    mc_k: int
    """Monte Carlo rollouts per turn prefix"""
    prm_steps: int
    """PRM training steps of 16 episodes"""
    search_questions: int
    """held-out questions searched"""
    bon_n: int
    """best-of-N's largest N (its smaller N are subsets of one pool)"""
    beams: tuple[tuple[int, int], ...]
    """beam settings: (candidates per round B*M, proposals per beam M)"""


SIZES = {
    "quick": AgentSizes(
        train_questions=40,
        test_questions=6,
        min_hops=1,
        max_hops=1,
        sft_steps=4,
        sft_lr=3e-3,
        d_model=32,
        n_layer=1,
        block_size=256,
        max_turns=4,
        max_new_tokens=48,
        held_out_n=2,
        prm_questions=4,
        prm_n=2,
        mc_k=2,
        prm_steps=4,
        search_questions=3,
        bon_n=4,
        beams=((2, 2),),
    ),
    "full": AgentSizes(
        train_questions=2000,
        test_questions=100,
        min_hops=1,
        max_hops=2,
        sft_steps=1500,
        sft_lr=6e-3,
        d_model=64,
        n_layer=2,
        block_size=320,
        max_turns=8,
        max_new_tokens=128,
        held_out_n=2,
        prm_questions=100,
        prm_n=4,
        mc_k=4,
        prm_steps=200,
        search_questions=50,
        bon_n=16,
        beams=((4, 2), (8, 4)),
    ),
}


def sizes(ctx: Context) -> AgentSizes:
    return SIZES["quick" if ctx.quick else "full"]
