"""Which first errors a turn-level PRM finds: scores from `prmkit score` against exact labels.

Input: the JSONL that `prmkit score --prm PRM --in LABELLED --out SCORED` writes, where
LABELLED carries the world verifier's labels (`prmkit label --method verify`): each
record's `labels.first_error` (-1: a right episode), the verifier's reason for it in
`labels.provenance.reason`, and the PRM's per-turn scores in `meta.prm_scores`.

The PRM's first flagged turn is the first score below --threshold (ProcessBench's rule).
For each kind of first error (the reason's text up to its colon: "wrong entity",
"calculation slip", ...; "right" for right episodes) it prints how many episodes the
PRM gets exactly right, and, over erroneous episodes, whether its flag comes early,
exactly, late or never; then the mean score of turns before the first error and of
turns from it on.

Then the entity picks: every `get` that directly follows a `search` and takes one of the
ids that search listed, up to the first error (a pick is wrong when the verifier puts
a wrong-entity first error there: a look-alike of the question's name; a pick whose
first error is of another kind, a wrong relation, is left out), and the AUROC of the PRM's
score on right picks against wrong ones (0.5: the PRM cannot tell them apart). The
same for every `calc` up to the first error: right before it, wrong when the first
error is a calculation slip there.

    python benchmarks/turn_prm_errors.py scored.jsonl --threshold 0.18
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter

from prmkit.evaluate.processbench import auroc


def kind_of(record: dict) -> str:
    """The first error's kind, from the verifier's reason; "right" for a right episode."""
    if record["labels"]["first_error"] in (-1, None):
        return "right"
    reason = record["labels"].get("provenance", {}).get("reason") or "unknown"
    kind = reason.split(":")[0].split("(")[0].strip()
    return "wrong answer" if kind.startswith("answer ") else kind


def entity_picks(record: dict) -> list[tuple[float, bool]]:
    """(PRM score, pick is right) for each get on an id the search before it listed."""
    turns, scores = record["turns"], record["meta"]["prm_scores"]
    fe = record["labels"]["first_error"]
    picks = []
    wrong_entity = kind_of(record) == "wrong entity"
    for i in range(1, len(turns)):
        if fe not in (-1, None) and (i > fe or (i == fe and not wrong_entity)):
            break
        m = re.match(r"get\[(\w+)", turns[i]["action"])
        before = turns[i - 1]
        if m and before["action"].startswith("search") and m.group(1) in before["observation"]:
            picks.append((scores[i], i != fe))
    return picks


def finite(x: float) -> float | None:
    """x to 4 places for the JSON summary; None (null) for nan, an empty class."""
    return None if math.isnan(x) else round(x, 4)


def calc_turns(record: dict) -> list[tuple[float, bool]]:
    """(PRM score, calculation is right) for each calc turn up to the first error, the
    one there counted only when it is a calculation slip."""
    turns, scores = record["turns"], record["meta"]["prm_scores"]
    fe = record["labels"]["first_error"]
    fe = len(turns) if fe in (-1, None) else fe
    slip = kind_of(record) == "calculation slip"
    return [
        (scores[i], i != fe)
        for i in range(min(fe + 1, len(turns)))
        if turns[i]["action"].startswith("calc[") and (i < fe or slip)
    ]


def separation(what: str, turns: list[tuple[float, bool]], wrong: str) -> float:
    """AUROC of the PRM's score on right turns against wrong ones, printed with counts."""
    value = auroc([s for s, _ in turns], [ok for _, ok in turns])
    n_right = sum(ok for _, ok in turns)
    print(
        f"{what}: {len(turns)} ({n_right} right, {len(turns) - n_right} {wrong}), "
        f"AUROC of the PRM's score {value:.3f}"
    )
    return value


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("scored", help="JSONL from `prmkit score` on verify-labelled episodes")
    ap.add_argument("--threshold", type=float, default=0.5)
    a = ap.parse_args()
    total, right, where = Counter(), Counter(), Counter()
    before, after, picks, calcs = [], [], [], []
    with open(a.scored, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            scores = r["meta"]["prm_scores"]
            fe = r["labels"]["first_error"]
            fe = None if fe in (-1, None) else fe
            flag = next((i for i, x in enumerate(scores) if x < a.threshold), None)
            k = kind_of(r)
            total[k] += 1
            right[k] += flag == fe
            if fe is not None:
                where[
                    "never"
                    if flag is None
                    else "early"
                    if flag < fe
                    else "late"
                    if flag > fe
                    else "exact"
                ] += 1
            picks += entity_picks(r)
            calcs += calc_turns(r)
            for i, x in enumerate(scores):
                (before if fe is None or i < fe else after).append(x)
    print(f"threshold {a.threshold}")
    print("| first error | episodes | PRM exactly right |\n|---|---|---|")
    for k, n in total.most_common():
        print(f"| {k} | {n} | {right[k]} |")
    print(f"\nerroneous episodes, PRM's flag: {dict(where)}")
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    print(
        f"mean score: turns before the first error {mean(before):.3f}, from it on {mean(after):.3f}"
    )
    pick_auroc = separation("entity picks after a search", picks, "look-alikes")
    calc_auroc = separation("calc turns", calcs, "slips")
    summary = {
        "benchmark": "turn_prm_errors",
        "threshold": a.threshold,
        "episodes": sum(total.values()),
        "entity_picks": len(picks),
        "entity_pick_auroc": finite(pick_auroc),
        "calc_turns": len(calcs),
        "calc_auroc": finite(calc_auroc),
    }
    print(json.dumps(summary | {"exact": {k: [right[k], total[k]] for k in total}}))


if __name__ == "__main__":
    main()
