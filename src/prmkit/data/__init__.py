"""Records, validated JSONL IO and format converters. Imports nothing else of prmkit."""

from prmkit.data.errors import InputError
from prmkit.data.jsonl import append_jsonl, iter_jsonl, read_jsonl, write_jsonl
from prmkit.data.records import Problem, Sample, StepLabels
from prmkit.data.turns import Turn, loss_mask, render_turns, split_step

__all__ = [
    "InputError",
    "Problem",
    "Sample",
    "StepLabels",
    "Turn",
    "append_jsonl",
    "iter_jsonl",
    "loss_mask",
    "read_jsonl",
    "render_turns",
    "split_step",
    "write_jsonl",
]
