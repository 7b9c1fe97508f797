"""PRMs: kinds, training, one-pass scoring. Never imports prmkit.rl."""

from prmkit.prm.base import RULE_PRMS, LocalRulePRM, RulePRM, StepScorer, load_scorer

__all__ = ["RULE_PRMS", "LocalRulePRM", "RulePRM", "StepScorer", "load_scorer"]
