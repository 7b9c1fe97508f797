"""The math world: boxed answers, math-verify equivalence, timeouts off the main thread."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("math_verify")

from prmkit.worlds import _mathcheck, get_world  # noqa: E402
from prmkit.worlds import math as M  # noqa: E402

SAME = [
    ("\\frac{1}{2}", "0.5"),
    ("\\frac34", "\\frac{3}{4}"),
    ("(-\\infty, 2]", "(-\\infty,2]"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\{1, 2\\}", "\\{2,1\\}"),
    ("x^2+2x+1", "(x+1)^2"),
]
DIFFERENT = [("[1, 2)", "[1, 2]"), ("\\frac{1}{3}", "0.33"), ("7", "-7"), ("(1,2)", "(2,1)")]


def test_extract_answer():
    assert M.extract_answer(["so", "the answer is $\\boxed{\\frac{1}{2}}$."]) == "\\frac{1}{2}"
    assert M.extract_answer(["\\boxed{1} then \\boxed{\\{1, \\{2\\}\\}}"]) == "\\{1, \\{2\\}\\}"
    assert M.extract_answer(["\\boxed{3}", "Checking again."]) == "3"  # the last boxed
    assert M.extract_answer(["The final answer is $42$."]) == "42"
    assert M.extract_answer(["no answer here", "\\boxed{unclosed"]) is None
    assert M.extract_answer([]) is None


@pytest.mark.parametrize("a, b", SAME)
def test_equivalent_answers(a, b):
    assert M.equivalent(a, b)


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_different_answers(a, b):
    assert not M.equivalent(a, b)


def test_grade():
    w = get_world("math")
    good = w.grade("p", "\\frac{1}{2}", ["Half of 1.", "So $\\boxed{0.5}$."])
    assert good.correct and good.first_error == -1 and good.final_answer == "0.5"
    bad = w.grade("p", "\\frac{1}{2}", ["Half of 1.", "So $\\boxed{2}$."])
    assert not bad.correct and bad.first_error == 1 and bad.status == ["ok", "error"]
    assert "is not" in bad.reason
    cut = w.grade("p", "1", ["Half of 1."])
    assert not cut.correct and cut.first_error == 0 and "no \\boxed" in cut.reason
    assert w.grade("p", "1", ["Half of 1."], partial=True).first_error == -1
    assert w.local_errors("p", ["a", "b"]) == [None, None]


def test_equivalence_off_the_main_thread():
    """math-verify's own timeout (signal.alarm) raises off the main thread; ours works."""
    pairs = SAME + DIFFERENT
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda ab: M.equivalent(*ab), pairs))
    assert got == [True] * len(SAME) + [False] * len(DIFFERENT)
    assert M.from_math({"problem": "p", "solution": "so \\boxed{\\frac{1}{2}}"}, "m0")[
        "answer"
    ] == ("\\frac{1}{2}")


def test_timeouts_count_as_different_and_recover():
    a, b = (
        "(x+1)^{12}",
        "x^{12}+12x^{11}+66x^{10}+220x^9+495x^8+792x^7+924x^6+792x^5+495x^4+220x^3+66x^2+12x+1",
    )
    assert _mathcheck.with_alarm(a, b, 1e-6) is False  # main thread: our SIGALRM timer
    assert M.equivalent(a, b)  # and the handler is restored
    out = {}

    def worker():
        out["hit"] = _mathcheck.in_helper(a, b, 1e-6)  # the helper is killed
        out["after"] = _mathcheck.in_helper(a, b, 60.0)  # and a new one answers
        out["thread"] = _mathcheck.in_thread(a, b, 60.0)

    t = threading.Thread(target=worker)
    t.start()
    t.join(600)
    assert out == {"hit": False, "after": True, "thread": True}
