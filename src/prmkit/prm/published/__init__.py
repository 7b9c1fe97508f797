"""Published PRMs loaded as they are: Math-Shepherd, RLHFlow, Qwen2.5-Math-PRM,
Skywork-o1-Open-PRM and TRL PRMTrainer outputs (see docs/prm-published.md)."""

from prmkit.prm.published.loader import (
    FORMATS,
    detect_format,
    is_published,
    load_published,
    place,
)
from prmkit.prm.published.recipes import RECIPES, Encoded
from prmkit.prm.published.scorer import PublishedScorer

__all__ = [
    "FORMATS",
    "RECIPES",
    "Encoded",
    "PublishedScorer",
    "detect_format",
    "is_published",
    "load_published",
    "place",
]
