"""Step labels on real text without an LLM: one controlled mistake in a correct GSM8K
reference solution, propagated so the solution stays self-consistent.

A GSM8K reference annotates its arithmetic, `48/2 = <<48/2=24>>24`. For each item a
seeded draw (`derive_seed(seed, id)`) keeps the reference correct (fraction
`perturb_correct`) or injects one mistake at step i, from the kinds in `MISTAKES`:

- arithmetic: the calculator result of step i is wrong (24 -> 25 or 240);
- copy: an operand of step i that appears in the problem is replaced by another
  number (the arithmetic on it is right);
- operation: one operator of step i is swapped (+ <-> -, * <-> /);
- skip: step i is left out; later steps use its first operand where they used its
  result (the first of them is the first error);
- early: the solution stops after step i and answers with step i's result;
- unit: a unit factor (60, 100, 12, 24, 7, 1000, ...) of step i is applied the wrong
  way (* <-> /).

Propagation: every later annotation whose expression uses a changed value is recomputed
with the new value, its stated result and the visible text rewritten, and the changes
chain on to the final answer, as a real solver carries its own mistake forward.
Values that also appear in the problem are never propagated (a "3" in a later step may
be the problem's 3). The first error is labeled: hard_k = k < i.

The text the PRM sees has the annotations removed (ProcessBench steps have none) and the
`#### x` line folded into the last step as "The answer is x."; the annotated text is
kept in meta (`annotated`) for inspection.
"""

from __future__ import annotations

import dataclasses
import random
import re

from prmkit.data import Sample, StepLabels
from prmkit.data.formats import hard_from_first_error
from prmkit.label.base import LabelContext
from prmkit.label.options import MISTAKES
from prmkit.models.sampling import derive_seed
from prmkit.worlds import gsm8k

UNIT_FACTORS = {
    60: r"minute|hour|second",
    100: r"%|percent|cent",
    1000: r"\bml\b|milli|gram|meter|kilo|liter|litre",
    12: r"month|dozen|inch|feet|foot",
    24: r"hour|day",
    7: r"week|day",
    52: r"week",
    365: r"day|year",
    16: r"ounce|pound",
    3600: r"second",
}
"""Unit factors, each taken as one only where the step names one of its units."""
_NUM = re.compile(r"(?<![\d.])(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)")
_SWAP = {"+": "-", "-": "+", "*": "/", "/": "*"}


def fmt(v: float) -> str:
    """A value as GSM8K writes it: 24, 2.5, 0.33 (at most two decimals)."""
    r = round(v, 2)
    return str(int(r)) if r == int(r) else f"{r:.2f}".rstrip("0")


def num(text: str) -> float:
    return float(text.replace(",", ""))


def annotations(step: str) -> list[re.Match]:
    return list(gsm8k.ANNOTATION.finditer(step))


def split_ann(m: re.Match) -> tuple[str, float | None]:
    """(expression, stated result) of an annotation match; result None if unreadable."""
    expr, _, res = m.group(1).rpartition("=")
    return expr, gsm8k.parse_number(res)


def evaluate(expr: str) -> float | None:
    try:
        return gsm8k.safe_eval(expr)
    except (ValueError, ArithmeticError, RecursionError):
        return None


def rewrite(step: str, m: re.Match, expr: str, result: float, old_expr: str) -> str:
    """Step with annotation m set to `expr=result`, the stated result after it and the
    visible copy of the expression before it (when written out) rewritten too."""
    before, after = step[: m.start()], step[m.end() :]
    after = re.sub(r"^(\s*\$?)" + _NUM.pattern, lambda x: x.group(1) + fmt(result), after, count=1)
    if old_expr.strip() and old_expr.strip() in before:
        i = before.rfind(old_expr.strip())
        before = before[:i] + expr.strip() + before[i + len(old_expr.strip()) :]
    elif old_expr.strip():  # written differently ("2*$500"): swap the changed numbers
        for a, b in zip(_NUM.findall(old_expr), _NUM.findall(expr)):
            hits = [x for x in _NUM.finditer(before) if x.group() == a]
            if a != b and hits:
                before = before[: hits[-1].start()] + b + before[hits[-1].end() :]
    return before + f"<<{expr}={fmt(result)}>>" + after


def _sub_numbers(text: str, changes: dict[float, float]) -> str:
    def swap(x: re.Match) -> str:
        v = num(x.group())
        return fmt(changes[v]) if v in changes else x.group()

    return _NUM.sub(swap, text)


def problem_numbers(problem: str) -> set[float]:
    return {num(x) for x in _NUM.findall(problem)}


def carry(step: str, changes: dict[float, float], frozen: set[float]) -> str:
    """One step with changed values substituted; an annotation that uses one is
    recomputed, and its new result joins `changes` (unless the old one is `frozen`)."""
    parts, pos = [], 0
    for m in annotations(step):
        expr, res = split_ann(m)
        parts.append(_sub_numbers(step[pos : m.start()], changes))
        pos = m.end()
        new_expr = _sub_numbers(expr, changes)
        val = evaluate(new_expr) if new_expr != expr else None
        if val is None or res is None:  # untouched (or unreadable): kept as it is
            parts.append(m.group())
            continue
        if abs(val - res) > 1e-9 and res not in frozen:
            changes[res] = round(val, 2)
        parts.append(f"<<{new_expr}={fmt(val)}>>")
    parts.append(_sub_numbers(step[pos:], changes))
    return "".join(parts)


def propagate(
    steps: list[str], start: int, changes: dict[float, float], problem: str
) -> tuple[list[str], int]:
    """Steps from `start` on with changed values carried forward, and the first step
    (>= start) whose text changed (-1 if none)."""
    out, first, frozen = list(steps), -1, problem_numbers(problem)
    for k in range(start, len(out)):
        new = carry(out[k], changes, frozen)
        if new != out[k] and first < 0:
            first = k
        out[k] = new
    return out, first


# ---- the mistakes: (steps, i, problem, rng) -> (new annotated steps, first error, detail) or None


def _single(steps, i, problem):
    """Step i's one annotation with a readable result not found in the problem, or None."""
    anns = annotations(steps[i])
    if len(anns) != 1:
        return None
    expr, res = split_ann(anns[0])
    if res is None or res in problem_numbers(problem):
        return None
    return anns[0], expr, res


def _changed(steps, i, problem, m, expr, new_expr, new_val, res, detail):
    if new_val is None or round(new_val, 2) <= 0 or fmt(new_val) == fmt(res) or new_val > 1e9:
        return None
    out = list(steps)
    out[i] = rewrite(out[i], m, new_expr, new_val, expr)
    out, _ = propagate(out, i + 1, {res: round(new_val, 2)}, problem)
    return out, i, detail


def m_arithmetic(steps, i, problem, rng):
    got = _single(steps, i, problem)
    if got is None:
        return None
    m, expr, res = got
    wrong = rng.choice(
        [res + rng.choice([-2, -1, 1, 2]), res * 10, res / 10 if res >= 10 else res + 10]
    )
    out = list(steps)
    out[i] = rewrite(out[i], m, expr, wrong, "")  # the expression stays, the result is wrong
    out, _ = propagate(out, i + 1, {res: round(wrong, 2)}, problem)
    return (out, i, f"{expr} = {fmt(wrong)} (is {fmt(res)})") if fmt(wrong) != fmt(res) else None


def m_copy(steps, i, problem, rng):
    got = _single(steps, i, problem)
    if got is None:
        return None
    m, expr, res = got
    pnums = [x.replace(",", "") for x in _NUM.findall(problem)]
    ops = [x for x in _NUM.finditer(expr) if x.group().replace(",", "") in pnums]
    if not ops:
        return None
    o = rng.choice(ops)
    others = [x for x in pnums if x != o.group().replace(",", "")]
    new = (
        rng.choice(others)
        if others and rng.random() < 0.5
        else fmt(num(o.group()) + rng.choice([-1, 1, 2, 10]))
    )
    new_expr = expr[: o.start()] + new + expr[o.end() :]
    return _changed(
        steps,
        i,
        problem,
        m,
        expr,
        new_expr,
        evaluate(new_expr),
        res,
        f"{o.group()} copied as {new}",
    )


def m_operation(steps, i, problem, rng):
    got = _single(steps, i, problem)
    if got is None:
        return None
    m, expr, res = got
    ops = [k for k, c in enumerate(expr) if c in _SWAP and k > 0 and expr[k - 1] not in "*/e"]
    if not ops:
        return None
    k = rng.choice(ops)
    new_expr = expr[:k] + _SWAP[expr[k]] + expr[k + 1 :]
    return _changed(
        steps, i, problem, m, expr, new_expr, evaluate(new_expr), res, f"{expr} -> {new_expr}"
    )


def m_unit(steps, i, problem, rng):
    got = _single(steps, i, problem)
    if got is None:
        return None
    m, expr, res = got
    hits = [
        x
        for x in re.finditer(r"([*/])\s*(\d+)(?![\d.])", expr)
        if re.search(UNIT_FACTORS.get(int(x.group(2)), "^$"), steps[i].lower())
    ]
    if not hits:
        return None
    h = rng.choice(hits)
    new_expr = expr[: h.start(1)] + _SWAP[h.group(1)] + expr[h.start(1) + 1 :]
    return _changed(
        steps,
        i,
        problem,
        m,
        expr,
        new_expr,
        evaluate(new_expr),
        res,
        f"unit factor {h.group(1)}{h.group(2)} inverted",
    )


def m_skip(steps, i, problem, rng):
    got = _single(steps, i, problem)
    if got is None or i == 0:
        return None
    m, expr, res = got
    earlier = {split_ann(a)[1] for st in steps[:i] for a in annotations(st)}
    ops = [num(x) for x in _NUM.findall(expr)]
    stale = [v for v in ops if v in earlier] or ops  # an earlier result, else an operand
    if not stale or abs(stale[0] - res) < 1e-9:
        return None
    rest, first = propagate(steps[:i] + steps[i + 1 :], i, {res: stale[0]}, problem)
    if first < 0:
        return None  # nothing used the skipped result
    return rest, first, f"skipped '{gsm8k.ANNOTATION.sub('', steps[i]).strip()}'"


def m_early(steps, i, problem, rng):
    anns = annotations(steps[i])
    if i >= len(steps) - 2 or not anns:
        return None
    res = split_ann(anns[-1])[1]
    final = gsm8k.extract_answer(steps)
    if res is None or final is None or gsm8k.same_answer(fmt(res), final):
        return None
    return steps[: i + 1] + [f"#### {fmt(res)}"], i, f"answered {fmt(res)} after step {i + 1}"


MISTAKE_FNS = {
    "arithmetic": m_arithmetic,
    "copy": m_copy,
    "operation": m_operation,
    "skip": m_skip,
    "early": m_early,
    "unit": m_unit,
}


def plausible(new: list[str], old: list[str]) -> bool:
    """No negative result where the reference had none: a solver would notice those."""

    def low(steps):
        vals = [split_ann(a)[1] for st in steps for a in annotations(st)]
        return min([v for v in vals if v is not None], default=0.0)

    return low(new) >= 0 or low(old) < 0


def perturb(steps: list[str], problem: str, kinds, rng: random.Random):
    """One mistake: (annotated steps, first error, kind, detail), or None if none of
    `kinds` applies anywhere. Tries the kinds in a random order, each at every
    reasoning step in a random order."""
    kinds = list(kinds)
    rng.shuffle(kinds)
    body = range(len(steps) - 1)  # the last line is `#### x`
    for kind in kinds:
        for i in rng.sample(list(body), len(body)):
            got = MISTAKE_FNS[kind](steps, i, problem, rng)
            if got is not None and plausible(got[0], steps):
                return got[0], got[1], kind, got[2]
    return None


def visible(steps: list[str]) -> list[str]:
    """What the PRM reads: annotations removed, `#### x` folded into the last step."""
    text = [gsm8k.ANNOTATION.sub("", s).strip() for s in steps]
    if text and text[-1].startswith("####"):
        answer = text.pop()[4:].strip()
        end = f"The answer is {answer}."
        last = text[-1] if text else ""
        last += "" if not last or last[-1] in ".!?" else "."
        text = text[:-1] + [f"{last} {end}".strip()]
    return text


def label_one(s: Sample, seed: int, correct_fraction: float, kinds) -> Sample:
    rng = random.Random(derive_seed(seed, s.id, "perturb"))
    annotated = list(s.meta.get("annotated") or s.steps)
    got = None if rng.random() < correct_fraction else perturb(annotated, s.prompt, kinds, rng)
    prov = {"method": "perturb", "seed": seed, "source": "gsm8k-reference", "mistake": None}
    new = annotated if got is None else got[0]
    steps = visible(new)
    fe = -1 if got is None else min(got[1], len(steps) - 1)
    if got is not None:
        prov |= {"mistake": got[2], "step": fe, "detail": got[3]}
    final = gsm8k.extract_answer(new)
    hard = hard_from_first_error(fe, len(steps))
    return dataclasses.replace(
        s,
        steps=steps,
        final_answer=final,
        correct=final is not None and gsm8k.same_answer(final, s.reference),
        first_error=fe,
        labels=StepLabels(first_error=fe, hard=hard, provenance=prov),
        meta=s.meta | {"world": "gsm8k", "annotated": new},
    )


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    frac = ctx.perturb.correct
    kinds = list(ctx.perturb.mistakes) or MISTAKES
    return [label_one(s, ctx.seed, frac, kinds) for s in samples]


def reference_sample(d: dict, index: int) -> Sample:
    """A GSM8K record {question, answer} (or a prmkit sample whose steps carry the
    annotations) as the correct reference the mistakes are injected into."""
    if "problem_id" in d and "steps" in d:
        return Sample.from_dict(d)
    if not isinstance(d.get("question"), str) or not isinstance(d.get("answer"), str):
        raise ValueError("expected a GSM8K record with 'question' and 'answer' strings")
    steps = gsm8k.solution_steps(d["answer"])
    final = gsm8k.extract_answer(steps)
    if final is None or len(steps) < 2:
        raise ValueError("GSM8K answer needs reasoning lines and a '#### x' line")
    sid = str(d.get("id", f"gsm8k-{index}"))
    return Sample(
        id=sid, problem_id=sid, prompt=d["question"].strip(), reference=final, steps=steps
    )
