"""How close mc labels of toolqa episodes come to the exact verifier, by the kind of mistake.

Label the same episodes with `prmkit label --method mc` (at several rollout temperatures
or k) and with `--method verify` (the exact first wrong turn), then compare: for each mc
file, `prmkit.label.quality` (first-error accuracy, step F1, rollouts) against the exact
labels; ProcessBench's F1 of the mc first error taken as a prediction (the F1 a PRM that
reproduced the labels exactly would score); and the first-error accuracy on each kind of
mistake (`meta.made`, as `benchmarks/toolqa_corrupted.py` writes it, or the head of the
verifier's reason for sampled episodes), with how often mc's first error comes sooner
than the exact one (all k rollouts failed from a right prefix). docs/agents.md
("Rollout temperature") shows a run.

    prmkit label --method verify --world toolqa --in made.jsonl --out exact.jsonl
    prmkit label --method mc --world toolqa --policy agent --k 4 --temperature 0.6 \\
        --in made.jsonl --out mc_t0.6.jsonl
    python benchmarks/toolqa_mc_agreement.py exact.jsonl mc_t0.6.jsonl mc_t1.0.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import defaultdict

from turn_prm_errors import kind_of

from prmkit.data import InputError, Sample, read_jsonl
from prmkit.evaluate.processbench import processbench_metrics
from prmkit.label.quality import quality


def labelled(sample: Sample) -> Sample:
    """The sample; ValueError when it carries no labels."""
    if sample.labels is None:
        raise ValueError("no labels: expected `prmkit label` output")
    return sample


def graded(exact: dict[str, Sample]):
    """A parser of mc records: the sample with the exact first error set (what `quality`
    compares against); ValueError for one without labels or not among the exact ones."""

    def parse(d: dict) -> Sample:
        s = labelled(Sample.from_dict(d))
        if s.id not in exact:
            raise ValueError(f"sample id {s.id!r} is not in the exact labels")
        return dataclasses.replace(s, first_error=exact[s.id].labels.first_error)

    return parse


def mistake_kind(sample: Sample) -> str:
    """`meta.made` for a made episode, else the kind in the verifier's reason."""
    return str(sample.meta.get("made") or kind_of(sample.to_dict()))


def by_kind(rows: list[Sample], exact: dict[str, Sample]) -> dict[str, dict]:
    """Per kind of first mistake: episodes, first-error accuracy, and how many mc flags sooner."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in rows:
        groups[mistake_kind(exact[s.id])].append(s)
    out = {}
    for kind, ss in sorted(groups.items()):
        sooner = sum(
            s.labels.first_error >= 0
            and (s.first_error < 0 or s.labels.first_error < s.first_error)
            for s in ss
        )
        out[kind] = {"n": len(ss), "acc": quality(ss)["first_error_acc"], "sooner": sooner}
    return out


def compare(mc_path: str, exact: dict[str, Sample]) -> dict:
    """One row: the mc file's provenance, `quality` against the exact labels, and by kind."""
    rows = read_jsonl(mc_path, graded(exact))
    prov = rows[0].labels.provenance
    row = {"file": mc_path, "k": prov.get("k"), "temperature": prov.get("temperature")}
    # ProcessBench's F1 with the mc first error as the prediction: what a PRM that
    # reproduced these labels exactly would score against the verifier.
    pb = processbench_metrics([s.labels.first_error for s in rows], [s.first_error for s in rows])
    f1 = round(pb["f1"], 4) if pb["f1"] == pb["f1"] else None  # nan: no wrong or no right
    return row | quality(rows) | {"labels_f1": f1, "by_kind": by_kind(rows, exact)}


def cell(row: dict | None) -> str:
    """A table cell: accuracy and how many mc flags sooner ("-" when no such episode)."""
    return "-" if row is None else f"{row['acc']:.3f} ({row['sooner']} sooner)"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("exact", help="the episodes labelled by `prmkit label --method verify`")
    ap.add_argument("mc", nargs="+", help="the same episodes labelled by `--method mc`")
    a = ap.parse_args()
    try:
        exact = {s.id: s for s in read_jsonl(a.exact, lambda d: labelled(Sample.from_dict(d)))}
        rows = [compare(p, exact) for p in a.mc]
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    kinds = sorted({k for r in rows for k in r["by_kind"]})
    head = "| file | k | temperature | first-error acc | F1 of the labels | "
    print(head + " | ".join(kinds) + " | rollouts |")
    print("|---" * (6 + len(kinds)) + "|")
    for r in rows:
        f1 = "-" if r["labels_f1"] is None else f"{r['labels_f1']:.3f}"
        cells = [r["file"], r["k"], r["temperature"], f"{r['first_error_acc']:.3f}", f1]
        cells += [cell(r["by_kind"].get(k)) for k in kinds] + [r["rollouts"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(json.dumps({"benchmark": "toolqa_mc_agreement", "exact": a.exact, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
