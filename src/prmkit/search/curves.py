"""From per-problem search records to accuracy/compute points and run summaries."""

from __future__ import annotations

from collections.abc import Iterable

from prmkit.search.core import SearchRecord


def summarize(records: list[SearchRecord], seconds: float) -> dict:
    """Accuracy with its compute for one run (the CLI's summary line)."""
    n = max(1, len(records))
    out = {
        "problems": len(records),
        "accuracy": round(sum(r.correct for r in records) / n, 4),
        "tokens": sum(r.tokens for r in records),
        "tokens_per_problem": round(sum(r.tokens for r in records) / n, 1),
        "prm_tokens": sum(r.prm_tokens for r in records),
        "prm_tokens_per_problem": round(sum(r.prm_tokens for r in records) / n, 1),
        "seconds": round(seconds, 2),
    }
    if records and records[0].curve:
        out["curve"] = {k: v["accuracy"] for k, v in points(records)[records[0].label].items()}
    return out


def points(records: Iterable[SearchRecord]) -> dict[str, dict[int, dict]]:
    """{label: {n: {"accuracy", "tokens", "prm_tokens", "problems"}}}, per-problem means.

    A record with a curve gives a point for every subset size; one without gives a
    point at its n. Records of several runs (seeds) with the same label and n are
    pooled, so the point is their mean.
    """
    acc: dict[str, dict[int, list[float]]] = {}
    for r in records:
        rows = (
            {int(k): v for k, v in r.curve.items()}
            if r.curve
            else {
                r.n: {"accuracy": float(r.correct), "tokens": r.tokens, "prm_tokens": r.prm_tokens}
            }
        )
        for n, v in rows.items():
            s = acc.setdefault(r.label, {}).setdefault(n, [0.0, 0.0, 0.0, 0])
            s[0] += v["accuracy"]
            s[1] += v["tokens"]
            s[2] += v["prm_tokens"]
            s[3] += 1
    return {
        label: {
            n: {
                "accuracy": round(a / c, 4),
                "tokens": round(t / c, 1),
                "prm_tokens": round(p / c, 1),
                "problems": c,
            }
            for n, (a, t, p, c) in sorted(by_n.items())
        }
        for label, by_n in acc.items()
    }
