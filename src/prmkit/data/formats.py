"""Converters between prmkit samples and the field's interchange formats.

- TRL stepwise supervision: {"prompt", "completions": [step...], "labels": [bool...]}
- ProcessBench: {"id", "problem", "steps": [...], "label": first-error index or -1}

Each `from_*` takes one parsed JSON object and raises ValueError on a bad one, so the
JSONL reader reports `FILE:LINE:`.
"""

from __future__ import annotations

from prmkit.data.records import Sample, StepLabels, _req, _str_list


def hard_from_first_error(first_error: int, n_steps: int) -> list[bool]:
    """Steps before the first error are correct; it and everything after are not."""
    if first_error < 0:
        return [True] * n_steps
    return [i < first_error for i in range(n_steps)]


def first_error_from_hard(hard: list[bool]) -> int:
    return next((i for i, h in enumerate(hard) if not h), -1)


def sample_labels(s: Sample) -> StepLabels:
    """A sample's labels: its own, else the exact grade's, else an error."""
    if s.labels is not None:
        return s.labels
    if s.first_error is not None:
        return StepLabels(
            first_error=s.first_error,
            hard=hard_from_first_error(s.first_error, len(s.steps)),
            provenance={"method": "exact"},
        )
    raise ValueError(f"sample {s.id} has neither labels nor a first_error")


def to_trl(s: Sample) -> dict:
    lab = sample_labels(s)
    hard = (
        lab.hard if lab.hard is not None else hard_from_first_error(lab.first_error, len(s.steps))
    )
    return {"prompt": s.prompt, "completions": list(s.steps), "labels": list(hard)}


def from_trl(d: dict, index: int = 0) -> Sample:
    if not isinstance(d, dict):
        raise ValueError("a TRL stepwise record must be a JSON object")
    prompt = _req(d, "prompt", str)
    steps = _str_list(d, "completions")
    labels = _req(d, "labels", list, "a list of booleans")
    if not all(isinstance(x, bool) for x in labels):
        raise ValueError("field 'labels' must be a list of booleans")
    if len(labels) != len(steps):
        raise ValueError(f"{len(labels)} labels for {len(steps)} completions")
    fe = first_error_from_hard(labels)
    return Sample(
        id=str(d.get("id", index)),
        problem_id=str(d.get("id", index)),
        prompt=prompt,
        reference=str(d.get("reference", "")),
        steps=steps,
        first_error=fe,
        correct=fe == -1,
        labels=StepLabels(first_error=fe, hard=labels, provenance={"source": "trl"}),
    )


def to_processbench(s: Sample) -> dict:
    lab = sample_labels(s)
    d = {"id": s.id, "problem": s.prompt, "steps": list(s.steps), "label": lab.first_error}
    if s.correct is not None:
        d["final_answer_correct"] = s.correct
    return d


def from_processbench(d: dict, index: int = 0) -> Sample:
    if not isinstance(d, dict):
        raise ValueError("a ProcessBench record must be a JSON object")
    pid = str(_req(d, "id", (str, int)))
    steps = _str_list(d, "steps")
    fe = _req(d, "label", int)
    if not -1 <= fe < len(steps):
        raise ValueError(f"label {fe} out of range for {len(steps)} steps")
    correct = d.get("final_answer_correct")
    return Sample(
        id=pid,
        problem_id=pid,
        prompt=_req(d, "problem", str),
        reference=str(d.get("reference", "")),
        steps=steps,
        first_error=fe,
        correct=correct if isinstance(correct, bool) else None,
        labels=StepLabels(
            first_error=fe,
            hard=hard_from_first_error(fe, len(steps)),
            provenance={"source": "processbench"},
        ),
        meta={k: v for k, v in d.items() if k in ("generator", "final_answer_correct")},
    )
