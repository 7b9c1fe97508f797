"""Agents: policies that act in a world over many turns.

`loop.run_episodes` advances many environments together: the policy writes one action
for every live episode in one batched call, the environments answer, and the next
call continues after the observations. `AgentPolicy` wraps the loop as a Generator,
so every step-level stage (sample, label, search) runs trajectories unchanged: a
step is one turn, `action => observation`.
"""
