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


def goals(
    pts: dict[str, dict[int, dict]], agg: str = "min", beam_label: str | None = None, n: int = 16
) -> dict:
    """Two comparisons of search methods at N = n, from points, each against a target.

    weighted_vote_margin: accuracy points weighted-vote@n minus vote@n (target >= 5).
    beam_vs_bon: the cheapest beam point, over every beam label (or only `beam_label`),
    whose accuracy reaches bon@n, and its generated tokens as a fraction of bon@n's
    (target <= 0.5); None when no beam point reaches it.
    """
    out: dict = {}
    wv, vote, bon = (
        pts.get(f"weighted-vote-{agg}", {}).get(n),
        pts.get("vote", {}).get(n),
        pts.get(f"bon-{agg}", {}).get(n),
    )
    if wv and vote:
        margin = round(100 * (wv["accuracy"] - vote["accuracy"]), 2)
        out["weighted_vote_margin"] = {
            "weighted_vote": wv["accuracy"],
            "vote": vote["accuracy"],
            "points": margin,
            "met": margin >= 5,
        }
    beams = [
        (label, k, p)
        for label, curve in pts.items()
        if (label == beam_label if beam_label else label.startswith(f"beam-{agg}"))
        for k, p in curve.items()
    ]
    if bon and beams:
        reach = [
            (p["tokens"], k, label) for label, k, p in beams if p["accuracy"] >= bon["accuracy"]
        ]
        best = min(reach) if reach else None
        ratio = None if best is None else round(best[0] / bon["tokens"], 3)
        top_label, top_n, top = max(beams, key=lambda b: b[2]["accuracy"])
        out["beam_vs_bon"] = {
            "bon_accuracy": bon["accuracy"],
            "bon_tokens": bon["tokens"],
            "beam_n": None if best is None else best[1],
            "beam_label": None if best is None else best[2],
            "token_ratio": ratio,
            "best_beam": {"label": top_label, "n": top_n} | top,
            "met": ratio is not None and ratio <= 0.5,
        }
    return out
