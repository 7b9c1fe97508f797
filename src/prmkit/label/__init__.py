"""Automatic step labels: mc, omega, progress, verify, judge, consensus.

`METHODS` maps a method's name to `label(samples, ctx) -> labeled samples`;
`run_labeling` runs one over a file, resumably (see `prmkit.label.engine`).
"""

from prmkit.label.base import LabelContext
from prmkit.label.engine import METHODS, LabelJob, run_labeling

__all__ = ["METHODS", "LabelContext", "LabelJob", "run_labeling"]
