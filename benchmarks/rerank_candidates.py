"""Build a GSM8K-format reranking set offline: real problems, synthetic candidates.

No LLM runs on this machine, so the candidates are GSM8K reference solutions with
errors of the kinds LLM solutions show, written by four simulated "models" of rising
quality and listed model by model (weakest first), as files collected per model are:

- correct:  the reference solution
- calc:     one calculator slip: an annotation's result (and the text after it) is
            off, and the final answer is off by the same amount; `rule:gsm8k` sees it
- logic:    every annotation holds but the final answer is wrong (a reasoning error
            the calculator check cannot see, the commonest kind in real solutions)
- cut:      the solution stops before its final answer (ran out of tokens)

Each model states its final answer in its own way (`#### x`, `The answer is x.`,
`\\boxed{x}`, `A: x`), as real models do.

    python benchmarks/rerank_candidates.py --gsm8k GSM8K_TEST.jsonl --problems 300 --out cands.jsonl
    prmkit search --in cands.jsonl --method bon --prm rule:gsm8k --world gsm8k --n 4 --out bon.jsonl

Every sample keeps the reference answer, so `search --in` grades it with the world.
"""

from __future__ import annotations

import argparse
import json
import random
import re

# P(correct, calc, logic, cut) per simulated model, weakest first (file order)
MODELS = {
    "model-a": (0.25, 0.30, 0.35, 0.10),
    "model-b": (0.40, 0.25, 0.30, 0.05),
    "model-c": (0.55, 0.20, 0.22, 0.03),
    "model-d": (0.70, 0.12, 0.16, 0.02),
}
# how each model states its final answer (the gsm8k world reads all four)
STYLES = {
    "model-a": "#### {}",
    "model-b": "The answer is {}.",
    "model-c": "So the final answer is $\\boxed{{{}}}$.",
    "model-d": "A: {}",
}
KINDS = ("correct", "calc", "logic", "cut")
_ANN = re.compile(r"<<([^<>]*)=([^<>=]*)>>(\S*)")


def number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").rstrip("."))
    except ValueError:
        return None


def fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:.2f}"


def wrong(v: float, rng: random.Random) -> float:
    """A plausible wrong value near v."""
    return rng.choice([v + rng.choice([1, 2, 5, 10, -1, -2]), v * 2, max(v - v // 3, v + 3)])


def corrupt(lines: list[str], final: float, kind: str, rng: random.Random) -> list[str] | None:
    """The reference steps `lines` (last: '#### x') with one error of `kind`; None if
    this solution cannot carry that error (no annotation to slip)."""
    body = lines[:-1]
    if kind == "correct":
        return lines
    if kind == "cut":
        return body[: max(1, len(body) - 1)]
    if kind == "logic":
        return body + [f"#### {fmt(wrong(final, rng))}"]
    spots = [(i, m) for i, line in enumerate(body) for m in _ANN.finditer(line)]
    spots = [(i, m) for i, m in spots if number(m.group(2)) is not None]
    if not spots:
        return None
    i, m = rng.choice(spots)
    v = number(m.group(2))
    bad = wrong(v, rng)
    if bad == v:
        return None
    new = f"<<{m.group(1)}={fmt(bad)}>>{fmt(bad)}"
    line = body[i][: m.start()] + new + body[i][m.end() :]
    return body[:i] + [line] + body[i + 1 :] + [f"#### {fmt(final + bad - v)}"]


def candidates(record: dict, pid: str, rng: random.Random) -> list[dict]:
    lines = [x.strip() for x in record["answer"].split("\n") if x.strip()]
    final = number(lines[-1][4:])
    out = []
    for model, probs in MODELS.items():
        kind = rng.choices(KINDS, probs)[0]
        steps = corrupt(lines, final, kind, rng) if final is not None else None
        if steps is None:  # no annotation to slip: a reasoning error instead
            kind, steps = "logic", corrupt(lines, final or 0.0, "logic", rng)
        if steps and kind != "cut":
            steps = steps[:-1] + [STYLES[model].format(steps[-1][4:].strip())]
        out.append(
            {
                "id": f"{pid}-{model}",
                "problem_id": pid,
                "prompt": record["question"].strip(),
                "reference": lines[-1][4:].strip().replace(",", ""),
                "steps": steps,
                "meta": {"generator": model, "error_kind": kind},
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gsm8k", required=True, help="GSM8K JSONL ({question, answer})")
    ap.add_argument("--out", required=True, help="where to write the candidates (prmkit samples)")
    ap.add_argument("--problems", type=int, default=300, help="first K problems")
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulated models")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rows = []
    with open(a.gsm8k, encoding="utf-8") as f:
        for k, line in enumerate(f):
            if k >= a.problems:
                break
            rows += candidates(json.loads(line), f"gsm8k-test-{k}", rng)
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds = {k: sum(r["meta"]["error_kind"] == k for r in rows) for k in KINDS}
    print(json.dumps({"out": a.out, "problems": a.problems, "samples": len(rows)} | kinds))


if __name__ == "__main__":
    main()
