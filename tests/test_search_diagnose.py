"""The measured reasons for best-of-N's curve (search.diagnose) and the verifier's
named error kinds (worlds.arithmetic.KINDS), on hand-made pools and solutions."""

from prmkit.data import Problem, Sample
from prmkit.prm.base import RulePRM
from prmkit.search.diagnose import pairwise_accuracy, ranking
from prmkit.search.sampled import Pool
from prmkit.worlds import arithmetic

PROMPT = "Start with 7, then +5."


def sample(i: int, steps: list[str]) -> Sample:
    g = arithmetic.grade(PROMPT, "12", steps)
    return Sample(f"s{i}", "p", PROMPT, "12", steps, g.final_answer, g.correct, g.first_error)


def test_pairwise_counts_ties_as_half():
    assert pairwise_accuracy([0.9, 0.5], [0.5, 0.1]) == (3.5, 4)


def test_ranking_of_a_prm_that_overrates_one_wrong_solution():
    good = sample(0, ["7+5=12", "Answer: 12"])
    slip = sample(1, ["7+5=13", "Answer: 13"])  # first error at step 1
    early = sample(2, ["Answer: 7"])  # first error at step 1
    # scores per step: the PRM rates the slip above the correct solution
    pool = Pool(Problem("p", PROMPT, "12"), [good, slip, early], [5, 5, 2])
    pool.scores = [[0.8, 0.7], [0.9, 0.9], [0.2]]
    none_right = Pool(Problem("q", PROMPT, "12"), [slip], [5], [[0.9, 0.9]])
    d = ranking([pool, none_right], RulePRM(), "min")
    assert d["coverage"] == 0.5 and d["covered"] == 1  # only the first pool has a right one
    assert d["pairs"] == 2 and d["pairwise"] == 0.5  # beats `early`, loses to `slip`
    assert d["misses"] == 1 and d["at_error"] == 0.9  # bon picks the slip, scored 0.9 at step 1
    assert d["at_ok"] == 0.75  # mean over the correct solution's steps


def test_the_verifier_names_each_first_error():
    cases = {
        ("7+5=13", "Answer: 13"): "arithmetic slip",
        ("Answer: 7",): "early answer",
        ("8+5=13", "Answer: 13"): "wrong operand",
        ("7-5=2", "Answer: 2"): "wrong operation",
        ("7+5=12", "Answer: 11"): "wrong answer",
        ("7+5=12", "12+1=13"): "extra operation",
        ("seven plus five",): "unreadable step",
        ("7+5=12", "Answer: 12", "12+0=12"): "step after answer",
        ("7+5=12",): "no answer",
    }
    for steps, kind in cases.items():
        g = arithmetic.grade(PROMPT, "12", list(steps))
        assert g.kind == kind and kind in arithmetic.KINDS, (steps, g.kind, g.reason)
    assert arithmetic.grade(PROMPT, "12", ["7+5=12", "Answer: 12"]).kind is None
