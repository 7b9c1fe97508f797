"""File-level converters between prmkit samples and public PRM data formats.

Every format goes through `Sample`: a reader turns one parsed record into samples, a
writer turns a sample into one record. Formats:

- prmkit:        our Sample JSONL
- trl:           TRL stepwise supervision {"prompt", "completions", "labels"}
- processbench:  {"id", "problem", "steps", "label"} as a JSON list file (official) or JSONL
- prm800k:       OpenAI PRM800K phase-1/2 records; ratings -1/0/1 (read only)
- math-shepherd: {"input", "label"} with a `ки` tag after each step, replaced by +/- in label
- gsm8k:         {"question", "answer"}: answer lines become steps as written
                 (annotations `<<expr=result>>` and the `#### x` line kept; reference
                 solutions, so every step is correct); or the model-solution layout
                 {"question", "answer"?, MODEL: {"solution", "is_correct"}, ...}: one
                 sample per model (read only)

A bad record raises InputError naming the file and line (or record, for JSON lists).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prmkit.data.errors import InputError
from prmkit.data.formats import (
    first_error_from_hard,
    from_processbench,
    from_trl,
    hard_from_first_error,
    sample_labels,
    to_processbench,
    to_trl,
)
from prmkit.data.jsonl import parse_line, write_jsonl
from prmkit.data.records import Sample, StepLabels, _req

NEUTRAL = ("positive", "negative")
MS_TAG = "ки"


def iter_records(
    path: str | Path, invalid: list[InputError] | None = None
) -> Iterator[tuple[int, Any]]:
    """(line or record number, parsed object) from a JSONL file or a JSON list file.

    With `invalid` (a list), a JSONL line that is not JSON is appended to it and
    skipped; line numbers still count it.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", str(path))
    if p.is_dir():
        raise InputError("is a directory, expected a JSONL or JSON file", str(path))
    with open(p, "rb") as f:
        head = f.read(4096).lstrip()
    if head.startswith(b"["):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"invalid JSON: {e}", str(path)) from None
        yield from enumerate(data, start=1)
        return
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield lineno, parse_line(raw, str(path), lineno)
            except InputError as e:
                if invalid is None:
                    raise
                invalid.append(e)


# ---- readers: one parsed record -> samples ------------------------------------------


def from_prm800k(d: dict, index: int = 0, neutral: str = "positive") -> Sample:
    """The labeled path of one PRM800K record: the chosen completion at each step (or
    the human one), ending at the step where the labeler stopped. Ratings: 1 correct,
    -1 wrong, 0 neutral, counted as `neutral` ("positive" or "negative")."""
    if neutral not in NEUTRAL:
        raise ValueError(f"neutral must be one of {NEUTRAL}")
    if not isinstance(d, dict):
        raise ValueError("a PRM800K record must be a JSON object")
    q = _req(d, "question", dict)
    label = _req(d, "label", dict)
    steps, hard = [], []
    for k, st in enumerate(_req(label, "steps", list)):
        if not isinstance(st, dict):
            raise ValueError(f"label.steps[{k}] must be an object")
        comps = st.get("completions") or []
        chosen = st.get("chosen_completion")
        if chosen is not None:
            if not isinstance(chosen, int) or not 0 <= chosen < len(comps):
                raise ValueError(f"label.steps[{k}].chosen_completion {chosen!r} out of range")
            c = comps[chosen]
        elif st.get("human_completion") is not None:
            c = st["human_completion"]
            c = (
                {"text": c, "rating": 1}
                if isinstance(c, str)
                else {**c, "rating": c.get("rating") if c.get("rating") is not None else 1}
            )
        elif comps:
            # the labeler stopped here: the (first) rated completion ends the path
            c = next((x for x in comps if x.get("rating") == -1), comps[0])
        else:
            break
        text = c.get("text")
        rating = c.get("rating")
        if not isinstance(text, str):
            raise ValueError(f"label.steps[{k}] completion has no text")
        if rating not in (-1, 0, 1):
            raise ValueError(f"label.steps[{k}] rating must be -1, 0 or 1, got {rating!r}")
        steps.append(text)
        hard.append(rating == 1 or (rating == 0 and neutral == "positive"))
        if chosen is None and st.get("human_completion") is None:
            break
    if not steps:
        raise ValueError("record has no labeled steps")
    fe = first_error_from_hard(hard)
    ref = q.get("ground_truth_answer")
    sid = str(d.get("id", index))
    fin = label.get("finish_reason")
    return Sample(
        id=sid,
        problem_id=str(q.get("id", sid)) if q.get("id") is not None else sid,
        prompt=_req(q, "problem", str),
        reference="" if ref is None else str(ref),
        steps=steps,
        first_error=fe,
        correct=(fe == -1 and fin == "solution") if fin is not None else None,
        labels=StepLabels(
            first_error=fe, hard=hard, provenance={"source": "prm800k", "neutral": neutral}
        ),
        meta={"finish_reason": fin} if fin is not None else {},
    )


_STEP_PREFIX = re.compile(r"^Step \d+:\s*")


def from_math_shepherd(d: dict, index: int = 0) -> Sample:
    """{"input": "question Step 1: ... ки\\nStep 2: ... ки", "label": same with +/-}."""
    if not isinstance(d, dict):
        raise ValueError("a Math-Shepherd record must be a JSON object")
    text = _req(d, "input", str)
    lab = _req(d, "label", str)
    pieces = text.split(MS_TAG)
    if len(pieces) < 2:
        raise ValueError(f"field 'input' has no {MS_TAG!r} step tags")
    marks, pos = [], 0
    for k, piece in enumerate(pieces[:-1]):
        if lab[pos : pos + len(piece)] != piece:
            raise ValueError(f"field 'label' does not match 'input' before tag {k + 1}")
        pos += len(piece)
        m = lab[pos : pos + 1]
        if m not in ("+", "-"):
            raise ValueError(f"tag {k + 1}: expected '+' or '-' in 'label', got {m!r}")
        marks.append(m == "+")
        pos += 1
    m = re.search(r"Step 1:", pieces[0])
    if m is not None:
        question = pieces[0][: m.start()].strip()
        pieces[0] = pieces[0][m.start() :]
    elif "\n" in pieces[0].strip():
        question, pieces[0] = pieces[0].strip().split("\n", 1)
    else:
        raise ValueError(
            "cannot tell the question from the first step (no 'Step 1:' and no newline)"
        )
    steps = [_STEP_PREFIX.sub("", p.strip()) for p in pieces[:-1]]
    fe = first_error_from_hard(marks)
    sid = str(d.get("id", index))
    return Sample(
        id=sid,
        problem_id=sid,
        prompt=question,
        reference=str(d.get("reference", "")),
        steps=steps,
        first_error=fe,
        correct=None,
        labels=StepLabels(first_error=fe, hard=marks, provenance={"source": "math-shepherd"}),
        meta={"task": d["task"]} if isinstance(d.get("task"), str) else {},
    )


def _gsm8k_final(answer: str) -> str:
    """'#### 1,200' -> '1200': the reference answer of a GSM8K `answer` field."""
    lines = [x.strip() for x in answer.split("\n") if x.strip()]
    if not lines or not lines[-1].startswith("####"):
        raise ValueError("field 'answer' must end with a '#### <final answer>' line")
    return lines[-1][4:].strip().replace(",", "").replace("$", "").strip()


def _model_solutions(d: dict) -> dict[str, dict]:
    """The per-model `{solution, is_correct}` objects of a model-solution record."""
    return {k: v for k, v in d.items() if isinstance(v, dict) and "solution" in v}


def from_gsm8k(d: dict, index: int = 0) -> Sample | list[Sample]:
    """A GSM8K record. Reference layout {"question", "answer"}: the answer's lines are
    the steps, kept as written (calculator annotations `<<48/2=24>>` and the final
    `#### 72` line included), all correct. Model-solution layout {"question",
    "answer"?, MODEL: {"solution", "is_correct"}, ...}: one sample per model, its
    solution's lines as steps, `correct` from is_correct, first error unknown."""
    if not isinstance(d, dict):
        raise ValueError("a GSM8K record must be a JSON object")
    question = _req(d, "question", str)
    sid = str(d.get("id", f"gsm8k-{index}"))
    models = _model_solutions(d)
    if models:
        return _from_model_solutions(d, question, sid, models)
    answer = _req(d, "answer", str)
    final = _gsm8k_final(answer)
    steps = [x.strip() for x in answer.split("\n") if x.strip()]
    return Sample(
        id=sid,
        problem_id=sid,
        prompt=question,
        reference=final,
        steps=steps,
        final_answer=final,
        correct=True,
        first_error=-1,
        labels=StepLabels(first_error=-1, hard=[True] * len(steps), provenance={"source": "gsm8k"}),
        meta={"world": "gsm8k"},
    )


def _from_model_solutions(d: dict, question: str, sid: str, models: dict) -> list[Sample]:
    ref = d.get("answer", d.get("reference", ""))
    ref = _gsm8k_final(ref) if isinstance(ref, str) and "####" in ref else str(ref or "")
    out = []
    for name, m in models.items():
        sol = m.get("solution")
        if not isinstance(sol, str) or not sol.strip():
            raise ValueError(f"field '{name}.solution' must be a non-empty string")
        ok = m.get("is_correct")
        if ok is not None and not isinstance(ok, bool):
            raise ValueError(f"field '{name}.is_correct' must be true or false")
        out.append(
            Sample(
                id=f"{sid}-{name}",
                problem_id=sid,
                prompt=question,
                reference=ref,
                steps=[x.strip() for x in sol.split("\n") if x.strip()],
                correct=ok,
                meta={"world": "gsm8k", "model": name},
            )
        )
    return out


# ---- writers: sample -> one record -----------------------------------------------------


def to_math_shepherd(s: Sample) -> dict:
    lab = sample_labels(s)
    hard = (
        lab.hard if lab.hard is not None else hard_from_first_error(lab.first_error, len(s.steps))
    )
    body = [f"Step {i + 1}: {st}" for i, st in enumerate(s.steps)]
    return {
        "input": s.prompt + " " + "".join(f"{b} {MS_TAG}\n" for b in body),
        "label": s.prompt + " " + "".join(f"{b} {'+' if h else '-'}\n" for b, h in zip(body, hard)),
    }


def to_prmkit(s: Sample) -> dict:
    return s.to_dict()


READERS: dict[str, Callable[..., Sample | list[Sample]]] = {
    "prmkit": lambda d, index=0: Sample.from_dict(d),
    "trl": from_trl,
    "processbench": from_processbench,
    "prm800k": from_prm800k,
    "math-shepherd": from_math_shepherd,
    "gsm8k": from_gsm8k,
}
WRITERS: dict[str, Callable[[Sample], dict]] = {
    "prmkit": to_prmkit,
    "trl": to_trl,
    "processbench": to_processbench,
    "math-shepherd": to_math_shepherd,
}


def detect_format(d: Any) -> str:
    """The format of one parsed record, from its keys."""
    if isinstance(d, dict):
        if "problem_id" in d and "steps" in d:
            return "prmkit"
        if "completions" in d and "labels" in d:
            return "trl"
        if "problem" in d and "steps" in d and "label" in d:
            return "processbench"
        if "question" in d and isinstance(d.get("label"), dict):
            return "prm800k"
        if "input" in d and "label" in d:
            return "math-shepherd"
        if "question" in d and ("answer" in d or _model_solutions(d)):
            return "gsm8k"
    raise ValueError("cannot tell the record's format from its fields")


def iter_samples(
    path: str | Path,
    fmt: str = "auto",
    neutral: str = "positive",
    invalid: list[InputError] | None = None,
) -> Iterator[tuple[Any, list[Sample]]]:
    """(record, its samples) for every record of a file; fmt "auto" detects the format
    from the first record. A bad record raises `FILE:LINE: what is wrong` (JSON list
    files: `FILE: record N: ...`), or, with `invalid` (a list), is appended to it and
    skipped (`--skip-invalid`)."""
    if fmt != "auto" and fmt not in READERS:
        raise InputError(f"unknown format {fmt!r}; choose from {sorted(READERS)}")
    is_list = Path(path).exists() and open(path, "rb").read(4096).lstrip().startswith(b"[")
    for n, obj in iter_records(path, invalid):
        where = (str(path), None) if is_list else (str(path), n)
        prefix = f"record {n}: " if is_list else ""
        try:
            if fmt == "auto":
                fmt = detect_format(obj)
            reader = READERS[fmt]
            got = reader(obj, n - 1, neutral=neutral) if fmt == "prm800k" else reader(obj, n - 1)
        except (ValueError, TypeError, KeyError) as e:
            err = InputError(prefix + str(e), *where)
            if invalid is None:
                raise err from None
            invalid.append(err)
            continue
        yield obj, got if isinstance(got, list) else [got]


def read_samples(
    path: str | Path,
    fmt: str = "auto",
    neutral: str = "positive",
    invalid: list[InputError] | None = None,
) -> list[Sample]:
    """Every record of a file as samples; see `iter_samples`. No records is an error."""
    out = [s for _, samples in iter_samples(path, fmt, neutral, invalid) for s in samples]
    if not out:
        raise InputError(
            "file has no valid records" if invalid else "file has no records", str(path)
        )
    return out


def report_skipped(invalid: list[InputError] | None, limit: int = 5) -> int:
    """Name the first `limit` skipped records on stderr; returns how many were skipped."""
    n = len(invalid or [])
    for e in (invalid or [])[:limit]:
        sys.stderr.write(f"skipped: {e}\n")
    if n > limit:
        sys.stderr.write(f"skipped: ... and {n - limit} more\n")
    return n


def write_samples(path: str | Path, samples: list[Sample], fmt: str) -> int:
    """Write samples in a format; ProcessBench to a `.json` path is a JSON list (official)."""
    if fmt not in WRITERS:
        raise InputError(f"cannot write format {fmt!r}; choose from {sorted(WRITERS)}")
    records = []
    for s in samples:
        try:
            records.append(WRITERS[fmt](s))
        except ValueError as e:
            raise InputError(f"sample {s.id}: {e}") from None
    if str(path).endswith(".json"):
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return len(records)
    return write_jsonl(path, records)


__all__ = [
    "READERS",
    "WRITERS",
    "detect_format",
    "iter_samples",
    "read_samples",
    "report_skipped",
    "write_samples",
]
