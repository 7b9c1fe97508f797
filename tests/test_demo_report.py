"""The demo report's wording comes from measured figures: windows that say what they
average, overlapping curves named, falls set against batch noise, named error kinds."""

import json

from prmkit.demo import Context
from prmkit.demo.rl import falls, overlaps, windows
from prmkit.demo.samples import stage_sample
from prmkit.demo.search import bon_explained
from prmkit.worlds import arithmetic


def rows(acc, steps, noop):
    return [
        {"step": i + 1, "accuracy": a, "steps_per_solution": s, "noop_frac": n, "kl": 0.01}
        for i, (a, s, n) in enumerate(zip(acc, steps, noop))
    ]


def test_windows_do_not_overlap():
    r = rows([0.1, 0.2, 0.3, 0.4], [3, 3, 4, 4], [0, 0, 0.1, 0.1])
    w = windows(r, 2)
    assert w["accuracy"] == (0.15000000000000002, 0.35) and w["steps_per_solution"] == (3, 4)
    assert w["kl"] == 0.01


def test_overlapping_curves_are_named():
    a = rows([0.5, 0.5], [3, 3], [0, 0])
    b = rows([0.5, 0.5], [3, 4], [0, 0])
    text = overlaps({"outcome": ({}, a), "min": ({}, b), "sum": ({}, a)})
    assert "outcome and sum have the same steps per solution" in text
    assert "outcome and min have the same accuracy" in text
    assert "outcome and min have the same steps per solution" not in text


def test_a_fall_with_more_noops_is_the_sum_form_hack_and_a_small_one_is_noise():
    hack = rows([0.8, 0.8, 0.4, 0.4], [3, 3, 6, 6], [0.0, 0.0, 0.3, 0.3])
    noise = rows([0.5, 0.6, 0.5, 0.55], [3, 3, 3, 3], [0, 0, 0, 0])
    res = {"sum": ({}, hack), "min": ({}, noise)}
    text = falls({k: windows(r, 2) for k, (_, r) in res.items()}, res, 24)
    assert "sum: training accuracy falls by 0.400" in text and "sum-form hack" in text
    assert "min: training accuracy falls by 0.025" in text and "no cause is measured" in text


def test_sample_stage_tables_the_verifiers_error_kinds(tmp_path, tiny_policy):
    probs = tmp_path / "test.jsonl"
    probs.write_text("".join(json.dumps(p) + "\n" for p in arithmetic.generate(6, seed=2)))
    ctx = Context(tmp_path, quick=True, seed=0, progress=False)
    ctx.artifacts |= {"policy": str(tiny_policy), "test_problems": str(probs)}
    rep = stage_sample(ctx)
    kinds = rep.summary["first_error_kinds"]
    assert set(kinds) <= set(arithmetic.KINDS)
    assert sum(kinds.values()) == round(rep.summary["wrong_fraction"] * rep.summary["samples"])
    for k in kinds:
        assert f"| {k} | {arithmetic.KINDS[k]} |" in rep.markdown


def test_bon_explained_with_and_without_a_measurable_ranking():
    pts = {
        "bon-min": {"1": {"accuracy": 0.5}, "16": {"accuracy": 0.25}},
        "vote": {"1": {"accuracy": 0.5}, "16": {"accuracy": 0.75}},
    }
    diag = {"coverage": 0.75, "pairwise": 0.6, "pairs": 40, "misses": 3, "covered": 6}
    text = bon_explained(pts, diag | {"at_error": 0.9, "at_ok": 0.8}, 16)
    assert "falls from 50.0% at N=1 to 25.0% at N=16" in text and "60.0% of 40" in text
    assert "first wrong step is 0.90" in text and "falls as N grows" in text
    none = {"coverage": 0.0, "pairwise": None, "pairs": 0, "misses": 0, "covered": 0}
    text = bon_explained(pts, none | {"at_error": None, "at_ok": None}, 16)
    assert "ranking is not measured here" in text and "falls as N grows" not in text
