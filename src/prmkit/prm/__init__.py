"""PRMs: kinds, training, one-pass scoring. Never imports prmkit.rl."""

from prmkit.prm.base import RulePRM, StepScorer

__all__ = ["RulePRM", "StepScorer"]
