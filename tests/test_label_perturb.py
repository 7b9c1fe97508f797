"""The perturbation labeler: each mistake kind on a hand-checked GSM8K solution, the
propagation that keeps later steps self-consistent, seeding, resume and the CLI."""

import json
import random

import pytest

from prmkit.label.perturb import (
    MISTAKE_FNS,
    label_one,
    perturb,
    propagate,
    reference_sample,
    visible,
)
from prmkit.worlds import gsm8k

RECORDS = [
    {
        "question": "Mark has 10 yellow flowers and 80% more purple ones. He has 25% as many green "
        "flowers as yellow and purple together. How many flowers does Mark have?",
        "answer": "There are 80/100 * 10 = <<80/100*10=8>>8 more purple flowers than yellow flowers.\n"
        "So in Mark's garden, there are 10 + 8 = <<10+8=18>>18 purple flowers.\n"
        "Purple and yellow flowers sum up to 10 + 18 = <<10+18=28>>28 flowers.\n"
        "That means in Mark's garden there are 25/100 * 28 = <<25/100*28=7>>7 green flowers.\n"
        "So in total Mark has 28 + 7 = <<28+7=35>>35 plants in his garden.\n#### 35",
    },
    {
        "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
        "babysitting. How much did she earn?",
        "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned "
        "0.2 x 50 = $<<0.2*50=10>>10.\n#### 10",
    },
]


def ref(n=0):
    return reference_sample(RECORDS[n], n)


def test_propagation_recomputes_later_steps_by_hand():
    s = ref(0)
    steps = list(s.steps)
    steps[1] = "So in Mark's garden, there are 10 + 8 = <<10+8=19>>19 purple flowers."
    out, first = propagate(steps, 2, {18.0: 19.0}, s.prompt)
    assert first == 2
    assert out[2] == "Purple and yellow flowers sum up to 10 + 19 = <<10+19=29>>29 flowers."
    assert out[3].endswith("25/100 * 29 = <<25/100*29=7.25>>7.25 green flowers.")
    assert out[4] == "So in total Mark has 29 + 7.25 = <<29+7.25=36.25>>36.25 plants in his garden."
    assert out[5] == "#### 36.25"
    assert all(gsm8k.check_step(x) is None for x in out[2:])  # self-consistent


@pytest.mark.parametrize("kind", sorted(MISTAKE_FNS))
def test_every_kind_labels_its_first_error_and_stays_consistent(kind):
    s, hits = ref(0), 0
    for i in range(len(s.steps) - 1):
        got = MISTAKE_FNS[kind](s.steps, i, s.prompt, random.Random(i))
        if got is None:
            continue
        hits += 1
        new, fe, detail = got
        vfe = min(fe, len(visible(new)) - 1)  # the `#### x` line folds into the last step
        assert visible(new)[:vfe] == visible(s.steps)[:vfe] and detail
        assert visible(new)[vfe] not in visible(s.steps)
        later = [gsm8k.check_step(x) for x in new[fe + 1 :]]
        assert later == [None] * len(later)  # no calculator error after the mistake
        if kind != "arithmetic":
            assert gsm8k.check_step(new[fe]) is None
        else:
            assert gsm8k.check_step(new[fe]) is not None
    assert hits > 0 or kind == "unit"


def test_operation_and_unit_by_hand():
    s = ref(1)
    new, fe, _ = MISTAKE_FNS["unit"](s.steps, 0, s.prompt, random.Random(0))
    assert fe == 0 and new[0] == "Weng earns 12*60 = $<<12*60=720>>720 per minute."
    assert new[1] == "Working 50 minutes, she earned 720 x 50 = $<<720*50=36000>>36000."
    assert visible(new) == [
        "Weng earns 12*60 = $720 per minute.",
        "Working 50 minutes, she earned 720 x 50 = $36000. The answer is 36000.",
    ]


def test_label_one_is_seeded_strips_annotations_and_keeps_correct_ones():
    s = ref(0)
    a, b = label_one(s, 3, 0.0, list(MISTAKE_FNS)), label_one(s, 3, 0.0, list(MISTAKE_FNS))
    assert a == b and a.labels.first_error >= 0 and not any("<<" in x for x in a.steps)
    fe = a.labels.first_error
    assert a.labels.hard == [k < fe for k in range(len(a.steps))]
    assert a.labels.provenance["mistake"] in MISTAKE_FNS
    kept = label_one(s, 3, 1.0, list(MISTAKE_FNS))
    assert (
        kept.labels.first_error == -1
        and kept.correct
        and kept.steps[-1].endswith("The answer is 35.")
    )
    assert (
        perturb(["no annotation here", "#### 3"], "q", list(MISTAKE_FNS), random.Random(0)) is None
    )


def test_cli_labels_resumes_and_rejects_bad_kinds(tmp_path, capsys):
    from prmkit.cli import main

    src = tmp_path / "gsm8k.jsonl"
    src.write_text(
        "".join(json.dumps(r | {"id": f"g{i}"}) + "\n" for i, r in enumerate(RECORDS * 3))
    )
    out = tmp_path / "out.jsonl"
    args = ["label", "--method", "perturb", "--in", str(src), "--out", str(out), "--no-progress"]
    assert main(args + ["--perturb-correct", "0"]) in (0, None)
    full = out.read_text()
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["items"] == 6 and first["with_error"] >= 5
    out.write_text("".join(full.splitlines(keepends=True)[:2]))
    assert main(args + ["--perturb-correct", "0"]) in (0, None)
    assert out.read_text() == full
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resumed"] == 2
    assert main(args + ["--perturb-mistakes", "arithmetic,typo"]) == 2
    assert main(args + ["--seed", "5"]) == 2  # another seed cannot resume this output
