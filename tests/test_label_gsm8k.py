"""The GSM8K-style world: safe arithmetic, calculator-annotation checks, answers, grading."""

import pytest

from prmkit.data import Problem
from prmkit.grade import graded_sample
from prmkit.label import METHODS, LabelContext
from prmkit.worlds import WORLDS
from prmkit.worlds import gsm8k as G

RECORD = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
}


@pytest.mark.parametrize(
    "expr, value",
    [
        ("48/2", 24),
        ("2+3*4", 14),
        ("(2+3)*4", 20),
        ("-3+10", 7),
        ("2**10", 1024),
        ("7//2", 3),
        ("7%4", 3),
        ("1,200*2", 2400),
        ("$5*3", 15),
        ("0.5*.2", 0.1),
    ],
)
def test_safe_eval_computes_arithmetic(expr, value):
    assert G.safe_eval(expr) == pytest.approx(value)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "open('x')",
        "a+1",
        "(1).real",
        "[1,2]",
        "2**1000",
        "9**9**9",
        "1/0",
        "'a'*3",
        "True+1",
        "x" * 300,
    ],
)
def test_safe_eval_refuses_everything_else(expr):
    with pytest.raises(ValueError):
        G.safe_eval(expr)


def test_annotations_are_checked_at_their_written_precision():
    assert G.check_annotation("48/2=24") is None
    assert G.check_annotation("10/3=3.33") is None and G.check_annotation("10/3=3.3") is None
    assert "not 4" in G.check_annotation("10/3=4")
    assert "not 25" in G.check_annotation("48/2=25")
    assert "no '='" in G.check_annotation("48/2")
    assert "not a number" in G.check_annotation("48/2=abc")
    assert "unsupported" in G.check_annotation("foo(2)=2")
    assert G.check_annotation("1,000+200=1,200") is None and G.check_annotation("20%*50=10") is None
    assert G.check_step("no annotation here") is None
    assert G.check_step("a <<2+2=4>> then <<3*3=10>>").startswith("calculator: 3*3 is 9")


def test_answers_are_extracted_and_normalized():
    assert G.extract_answer(["x", "#### 72"]) == "72"
    assert G.extract_answer(["#### $1,200.00"]) == "1200"
    assert G.extract_answer(["#### 0.5"]) == "0.5"
    assert G.extract_answer(["The answer is 72"]) == "72" and G.extract_answer([]) is None
    assert G.extract_answer(["so it is 72"]) is None
    assert G.same_answer("1,200", "1200.0") and not G.same_answer("12", "13")


def test_grade_localizes_calculator_errors():
    p = G.from_gsm8k(RECORD, "g1")
    steps = G.solution_steps(RECORD["answer"])
    assert p["answer"] == "72" and len(steps) == 3 and "gsm8k" in WORLDS
    g = G.grade(p["prompt"], p["answer"], steps)
    assert g.correct and g.first_error == -1 and g.status == ["ok"] * 3
    bad = [steps[0].replace("=24>>", "=25>>"), steps[1], steps[2]]
    g = G.grade(p["prompt"], p["answer"], bad)
    assert (
        not g.correct and g.first_error == 0 and g.status == ["error", "after_error", "after_error"]
    )
    g = G.grade(
        p["prompt"], "73", steps
    )  # right arithmetic, wrong answer: blamed on the answer step
    assert g.first_error == 2 and "no arithmetic error" in g.reason
    g = G.grade(p["prompt"], p["answer"], steps[:2])
    assert g.first_error == 1 and g.reason == "ends without a final answer"
    assert G.grade(p["prompt"], p["answer"], steps[:2], partial=True).first_error == -1
    assert G.grade(p["prompt"], p["answer"], steps + ["more"]).first_error == 3


def test_verify_labels_gsm8k_samples_by_their_annotations():
    p = Problem.from_dict(G.from_gsm8k(RECORD, "g1"))
    steps = G.solution_steps(RECORD["answer"])
    good = graded_sample(p, steps, "a", world="gsm8k")
    bad = graded_sample(
        p, [steps[0], steps[1].replace("=72>>", "=70>>"), steps[2]], "b", world="gsm8k"
    )
    out = METHODS["verify"]([good, bad], LabelContext())  # world "auto": each sample's meta.world
    assert out[0].labels.hard == [True, True, True]
    assert (
        out[1].labels.hard == [True, False, False] and out[1].labels.provenance["world"] == "gsm8k"
    )
