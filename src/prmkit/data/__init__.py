"""Records, validated JSONL IO and format converters. Imports nothing else of prmkit."""

from prmkit.data.errors import InputError
from prmkit.data.jsonl import append_jsonl, iter_jsonl, read_jsonl, write_jsonl
from prmkit.data.records import Problem, Sample, StepLabels

__all__ = [
    "InputError",
    "Problem",
    "Sample",
    "StepLabels",
    "append_jsonl",
    "iter_jsonl",
    "read_jsonl",
    "write_jsonl",
]
