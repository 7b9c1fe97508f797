"""Consensus filtering of two label sets: what is kept, what is dropped and why."""

import dataclasses

from conftest import last_json, run_cli
from test_label_methods import SAMPLES

from prmkit.data import Sample, StepLabels, read_jsonl, write_jsonl
from prmkit.label import METHODS, LabelContext
from prmkit.label.consensus import agree


def labeled(s, hard, method):
    fe = next((i for i, h in enumerate(hard) if not h), -1)
    return dataclasses.replace(s, labels=StepLabels(fe, hard, None, {"method": method}))


def test_step_mode_keeps_the_agreeing_prefix():
    s = SAMPLES[1]  # 4 steps
    a = labeled(s, [True, True, False, False], "mc")
    b = labeled(s, [True, False, False, False], "judge")
    keep, why = agree(a, b)
    assert keep == 1 and why == {"disagree": 1, "after_disagreement": 2}
    out = METHODS["consensus"]([a], LabelContext(other={s.id: b}))[0]
    assert out.steps == s.steps[:1] and out.labels.hard == [True] and out.labels.first_error == -1
    p = out.labels.provenance
    assert (
        p["sources"] == ["mc", "judge"]
        and p["kept_steps"] == 1
        and p["dropped"] == {"disagree": 1, "after_disagreement": 2}
    )
    assert Sample.from_dict(out.to_dict()) == out
    same = agree(a, labeled(s, [True, True, False, False], "judge"))
    assert same == (4, {})


def test_first_error_mode_keeps_or_drops_whole_samples():
    s = SAMPLES[1]
    a = labeled(s, [True, False, False, False], "mc")
    assert agree(a, labeled(s, [True, False, True, False], "judge"), "first_error")[0] == 4
    keep, why = agree(a, labeled(s, [False, False, False, False], "judge"), "first_error")
    assert keep == 0 and why == {"disagree": 1, "after_disagreement": 3}


def test_missing_unlabeled_and_different_steps_are_reasons():
    a = labeled(SAMPLES[1], [True, False, False, False], "mc")
    assert agree(a, None) == (0, {"missing": 4})
    assert agree(a, SAMPLES[1]) == (0, {"unlabeled": 4})
    other = dataclasses.replace(labeled(SAMPLES[1], [True] * 4, "judge"), steps=["x"] * 4)
    assert agree(a, other) == (0, {"steps_differ": 4})


def test_consensus_command_reports_drops(tmp_path, capsys):
    a = [
        labeled(
            s,
            [i < (s.first_error if s.first_error >= 0 else 99) for i in range(len(s.steps))],
            "verify",
        )
        for s in SAMPLES
    ]
    b = [dataclasses.replace(x) for x in a]
    b[1] = labeled(SAMPLES[1], [False] * 4, "mc")  # disagrees from step 0: the whole sample goes
    b[2] = labeled(SAMPLES[2], [False, False, True, False], "mc")  # agrees on 2 steps
    write_jsonl(tmp_path / "a.jsonl", a)
    write_jsonl(tmp_path / "b.jsonl", b[:-1])  # the last id is missing from B
    out = tmp_path / "c.jsonl"
    code, stdout, err = run_cli(
        [
            "label",
            "--method",
            "consensus",
            "--in",
            tmp_path / "a.jsonl",
            "--with",
            tmp_path / "b.jsonl",
            "--out",
            out,
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    s = last_json(stdout)
    assert s["dropped_samples"] == 2 and s["items"] == len(SAMPLES) - 2
    assert s["dropped_steps"] == {"disagree": 2, "after_disagreement": 4, "missing": 2}
    kept = {r.id: r for r in read_jsonl(out, Sample.from_dict)}
    assert set(kept) == {x.id for x in SAMPLES} - {SAMPLES[1].id, SAMPLES[-1].id}
    assert len(kept[SAMPLES[2].id].steps) == 2
    code, _, err = run_cli(
        ["label", "--method", "consensus", "--in", tmp_path / "a.jsonl", "--out", out], capsys
    )
    assert code == 2 and "--with" in err
