"""TRL- and verl-style reward functions, called directly (neither library installed)."""

import pytest

from prmkit.prm.base import RulePRM
from prmkit.rl import integrations as I

PROMPT = "Start with 7, then +5, *3, -4."
GOOD = "7+5=12\n12*3=36\n36-4=32\nAnswer: 32\n"
BAD = "7+5=12\n12*3=35\n35-4=31\nAnswer: 31\n"
NOOP = "7+5=12\n12*1=12\n12*3=36\n36-4=32\nAnswer: 32\n"


class Fixed:
    """A test scorer with known per-step scores, by number of steps."""

    kind = "fixed"

    def score(self, items):
        return [[0.9, 0.5, 0.7, 0.8, 0.6][: len(steps)] for _, steps in items]


def test_trl_reward_func_plain_text():
    f = I.make_trl_reward_func(RulePRM(), "min")
    assert f([PROMPT, PROMPT, PROMPT], [GOOD, BAD, ""]) == [1.0, 0.0, 0.0]
    assert f.__name__ == "prmkit_rule_min"
    # the aggregators on known scores: 4 steps -> 0.9, 0.5, 0.7, 0.8
    for agg, want in (
        ("min", 0.5),
        ("mean", 0.725),
        ("last", 0.8),
        ("prod", 0.9 * 0.5 * 0.7 * 0.8),
        ("sum", 2.9),
    ):
        assert I.make_trl_reward_func(Fixed(), agg)([PROMPT], [GOOD])[0] == pytest.approx(want)


def test_trl_reward_func_conversational_and_outcome_column():
    f = I.make_trl_reward_func(Fixed(), "min", outcome_weight=2.0)
    prompts = [[{"role": "user", "content": PROMPT}]] * 2
    completions = [
        [{"role": "assistant", "content": GOOD}],
        [{"role": "assistant", "content": BAD}],
    ]
    # min of the 4 fixed scores (0.5) plus 2 * correct
    assert f(prompts, completions, answer=["32", "32"]) == pytest.approx([2.5, 0.5])
    assert f(prompts, completions) == pytest.approx([0.5, 0.5])  # no answer column: PRM only


def test_sum_aggregate_is_hackable_min_is_not():
    f_sum = I.make_trl_reward_func(RulePRM(), "sum")
    f_min = I.make_trl_reward_func(RulePRM(), "min")
    assert f_sum([PROMPT], [NOOP])[0] > f_sum([PROMPT], [GOOD])[0]
    assert f_min([PROMPT], [NOOP]) == f_min([PROMPT], [GOOD]) == [1.0]


def test_verl_compute_score():
    cs = I.make_compute_score(RulePRM(), "min", outcome_weight=1.0)
    assert cs("arithmetic", GOOD, "32", {"prompt": PROMPT}) == 2.0
    assert cs("arithmetic", BAD, "32", {"question": PROMPT}) == 0.0
    with pytest.raises(ValueError, match="extra_info"):
        cs("arithmetic", GOOD, "32", None)


def test_verl_module_entry_point_reads_environment(monkeypatch):
    monkeypatch.setenv("PRMKIT_PRM", "rule")
    monkeypatch.setenv("PRMKIT_AGG", "mean")
    monkeypatch.setenv("PRMKIT_OUTCOME_WEIGHT", "0.5")
    assert I.compute_score("arithmetic", BAD, "32", {"prompt": PROMPT}) == pytest.approx(
        0.25
    )  # steps 1,0,0,0
    assert I.compute_score("arithmetic", GOOD, "32", {"prompt": PROMPT}) == pytest.approx(1.5)


def test_unknown_aggregate():
    with pytest.raises(ValueError):
        I.make_trl_reward_func(RulePRM(), "max")
    with pytest.raises(ValueError):
        I.make_compute_score(RulePRM(), "median")


def test_the_loader_knows_the_local_rule_prm():
    from prmkit.prm.base import load_scorer

    steps = BAD.splitlines()
    assert load_scorer("local-rule").score([(PROMPT, steps)]) == [[1.0, 0.0, 1.0, 1.0]]
    assert load_scorer("rule").score([(PROMPT, steps)]) == [[1.0, 0.0, 0.0, 0.0]]


GSM_Q = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many"
    " clips in May. How many clips did Natalia sell altogether in April and May?"
)
GSM_A = "She sold 48/2 = <<48/2=24>>24 clips in May.\n48+24 = <<48+24=72>>72 in all.\n#### 72"


def test_verl_compute_score_keywords_and_world(monkeypatch):
    for var in ("PRMKIT_PRM", "PRMKIT_AGG", "PRMKIT_OUTCOME_WEIGHT", "PRMKIT_WORLD"):
        monkeypatch.delenv(var, raising=False)
    # verl merges custom_reward_function.reward_kwargs into the call as keywords
    kw = {"prm": "rule", "aggregate": "mean", "outcome_weight": 0.5}
    assert I.compute_score("arithmetic", BAD, "32", {"prompt": PROMPT}, **kw) == pytest.approx(0.25)
    assert I.compute_score("arithmetic", GOOD, "32", {"prompt": PROMPT}, **kw) == 1.5
    # verl's GSM8K rows (data_source openai/gsm8k) are graded in the gsm8k world
    assert I.world_of("openai/gsm8k") == "gsm8k" and I.world_of("arithmetic") == "arithmetic"
    assert I.compute_score("openai/gsm8k", GSM_A, "72", {"question": GSM_Q}) == 2.0
    wrong = GSM_A.replace("72", "71")
    assert I.compute_score("openai/gsm8k", wrong, "72", {"question": GSM_Q}, world="gsm8k") == 0.0
    # verl's own pass-through keywords are accepted; anything else is named
    assert I.compute_score("arithmetic", GOOD, "32", {"prompt": PROMPT}, reward_router_address=None)
    with pytest.raises(ValueError, match="unknown prmkit reward setting"):
        I.compute_score("arithmetic", GOOD, "32", {"prompt": PROMPT}, agg="min")
