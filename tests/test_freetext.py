"""The free-text arithmetic checker and final-answer reading, case by case."""

import pytest

from prmkit.worlds import gsm8k as G
from prmkit.worlds.answers import find_answer, numeric_answer
from prmkit.worlds.freetext import check_text, equations, normalize


@pytest.mark.parametrize(
    "step",
    [
        "3 + 4 = 7",
        "$12 \\times 5 = 60$",
        "\\(1/3 \\times 18 = 6\\)",
        "15/3 = 5",
        "\\frac{3}{4} \\cdot 8 = 6",
        "12 ÷ 4 = 3, 12 × 4 = 48",
        "1,200 + 300 = 1,500 dollars",
        "20% * 50 = 10",
        "(4 / 20) * 100 = 0.2 * 100 = 20%.",
        "1.2 x 100% = 120 inches",
        "¾ x 12 = 9",
        "Total cost = Cost per gallon * gallons = $3.5 * 4000 = $14,000.",
        "\\[ 2 \\text{ books} \\times 2 \\text{ pounds/book} = 4 \\text{ pounds} \\]",
        "10/3 = 3.33; 7/2 = 3 when rounded down",
        "3 x 4 = 12, 2^3 = 8",
    ],
)
def test_true_arithmetic_passes_and_is_read(step):
    assert equations(step), step  # it was read, not skipped
    assert check_text(step) is None


@pytest.mark.parametrize(
    "step, want",
    [
        ("3 + 4 = 8", "3 + 4 is 7, not 8"),
        ("$12 \\times 5 = 65$", "is 60, not 65"),
        ("\\(1/3 \\times 18 = 9\\)", "is 6, not 9"),
        ("15/3 = 6", "is 5, not 6"),
        ("\\frac{3}{4} \\cdot 8 = 5", "is 6, not 5"),
        ("12 ÷ 4 = 4", "is 3, not 4"),
        ("12 × 4 = 46", "is 48, not 46"),
        ("1,200 + 300 = 1,600", "is 1500, not 1600"),
        ("25% of it: 25% * 80 = 25", "is 20, not 25"),
        ("Expired = 2/5 * 4000 = 800 gallons.", "is 1600, not 800"),
        ("10/3 = 3.4", "not 3.4"),
    ],
)
def test_false_arithmetic_is_flagged(step, want):
    why = check_text(step)
    assert why is not None and want in why


@pytest.mark.parametrize(
    "step",
    [
        "half of 18 = 8",  # `of` takes the number: the left side is not 18
        "3 times 4 = 13",
        "x = 5",
        "2x = 10",
        "f(2) = 5",
        "a_1 = 3",
        "2 dozen = 2 \\times 12 = 24",  # a lone number on the left is a conversion
        "2 hours = 120 minutes",
        "= 1.5 million",
        "5 <= 3 + 1 and 7 != 3 + 5",
        "1/3 ≈ 0.5",
        "\\[ 2 + \\sqrt{1} = 1 \\] \\[ 2 + 1 = 1 \\] (False)",  # a refuted claim
        "\\log_x (10^{-2}) = -2 \\log_x 10",
        "\\frac{4}{3} \\pi (1.5)^3 = 4.5 \\pi",
        "\\text{apples} + 8 = 52",
        "x + 5 - 5 = 27 - 5",
        "1344 \\div 175 = 7 \\quad \\text{(quotient)}",
        "17 / 5 = 3 remainder 2",
        "\\frac{2}{3} = 0.\\overline{6}",
        "no equation at all",
        "17/3 = 5 and 2/3 loads",  # a mixed number
        "12 x 1 and 1/4 = 15",
        "25 / 1/3 = 75",  # a division by a written fraction
        "30/100%1000 = 300",  # prose never means a modulo
        "6:00+48=6:48 PM",
        "$1 / 2 = 50 cents",
        "5 x 1/2 = 10 halves",
        "16,0000/10=16000",
    ],
)
def test_what_it_cannot_read_is_skipped_not_flagged(step):
    assert check_text(step) is None


def test_normalize_latex_and_unicode():
    assert normalize("\\frac{1}{2} \\times 3 − 1") == "((1)/(2)) * 3 - 1"
    assert normalize("1,234,567 ÷ 7") == "1234567 / 7"
    assert normalize("- 5 + 3") == "5 + 3"  # a list bullet is not a minus


def test_approximately_allows_one_percent():
    assert check_text("11.5098 \\times 720 = 8286.656") is not None
    assert check_text("approximately 11.5098 \\times 720 = 8286.656") is None


def test_gsm8k_world_uses_the_checker_without_annotations():
    steps = ["She sold 48/2 = 24 clips in May.", "In all 48 + 24 = 70 clips.", "#### 70"]
    g = G.grade("q", "70", steps)
    assert g.first_error == 1 and "48 + 24 is 72, not 70" in g.reason
    assert G.local_errors("q", steps)[1] is not None and G.local_errors("q", steps)[0] is None
    # annotations take precedence: the step's own text is not re-checked
    assert G.check_step("48/2 = <<48/2=24>>24") is None
    assert "calculator" in G.check_step("48/2 = <<48/2=25>>25")


@pytest.mark.parametrize(
    "text, raw, value",
    [
        ("#### 1,200", "1,200", 1200),
        ("A: $18.", "$18.", 18),
        ("Answer: 18 dollars", "18 dollars", 18),
        ("The answer is 18.", "18", 18),
        ("The final answer is: 12.5%", "12.5%", 12.5),
        ("So the answer is \\$5 per day.", "\\$5 per day", 5),
        ("The answer is \\(\\boxed{30}\\).", "30", 30),
        ("Thus $\\boxed{2,800}$", "2,800", 2800),
        ("\\boxed{30 \\text{ flamingos}}", "30 \\text{ flamingos}", 30),
        ("The answer is -3.", "-3", -3),
    ],
)
def test_final_answer_forms(text, raw, value):
    assert find_answer(text) == raw
    assert numeric_answer(raw) == value
    assert G.extract_answer(["work", text]) == str(value).removesuffix(".0")


def test_answers_that_are_not_one_number():
    assert find_answer("no answer stated") is None
    assert numeric_answer("3/4") is None and numeric_answer("2 + 3") is None
    assert numeric_answer("1,20") is None and numeric_answer("eighteen") is None
    assert find_answer("\\boxed{\\frac{3}{4}}") == "\\frac{3}{4}"
    assert G.extract_answer(["\\boxed{\\frac{3}{4}}"]) == "\\frac{3}{4}"
