import random

import pytest

from prmkit.worlds import arithmetic as A


def test_generate_is_deterministic_and_bounded():
    d = A.Difficulty(min_ops=3, max_ops=5, max_value=50)
    ps = A.generate(200, seed=3, difficulty=d)
    assert ps == A.generate(200, seed=3, difficulty=d)
    assert ps != A.generate(200, seed=4, difficulty=d)
    for p in ps:
        start, ops = A.parse_prompt(p["prompt"])
        assert 3 <= len(ops) <= 5
        v = start
        for op, b in ops:
            v = A.apply(v, op, b)
            assert 0 <= v <= 50
        assert str(v) == p["answer"]
        g = A.grade(p["prompt"], p["answer"], A.solve(p["prompt"]))
        assert g.correct and g.first_error == -1 and set(g.status) == {"ok"}


def test_operator_knob():
    for p in A.generate(50, seed=0, difficulty=A.Difficulty(operators="+")):
        assert all(op == "+" for op, _ in A.parse_prompt(p["prompt"])[1])
    with pytest.raises(ValueError):
        A.Difficulty(operators="/").check()


PROMPT = "Start with 7, then +5, *3, -4."


@pytest.mark.parametrize(
    "steps, first_error, reason",
    [
        (["7+5=12", "12*3=36", "36-4=32", "Answer: 32"], -1, None),
        (["7+5=12", "12*3=35", "35-4=31", "Answer: 31"], 1, "arithmetic: 12*3 is 36, not 35"),
        (["7+5=12", "12-4=8", "Answer: 8"], 1, "applies -4, but the next operation is *3"),
        (["7+5=12", "Answer: 12"], 1, "answers before finishing (2 operation(s) left)"),
        (
            ["7+5=12", "12*3=36", "36-4=32", "Answer: 33"],
            3,
            "answer 33 is not the computed value 32",
        ),
        (["7+6=13", "13*3=39"], 0, "applies +6, but the next operation is +5"),
        (["8+5=13"], 0, "uses 8, but the current value is 7"),
        (["7 plus 5"], 0, "cannot parse step '7 plus 5'"),
        (["7+5=12", "12*3=36", "36-4=32"], 2, "ends without a final answer"),
        (
            ["7+5=12", "12*3=36", "36-4=32", "Answer: 32", "32+0=32"],
            4,
            "step after the final answer",
        ),
    ],
)
def test_verifier_first_error(steps, first_error, reason):
    g = A.grade(PROMPT, "32", steps)
    assert g.first_error == first_error
    assert g.reason == reason
    assert g.correct == (first_error == -1)
    if first_error >= 0:
        assert g.status[first_error] == "error"
        assert all(s == "after_error" for s in g.status[first_error + 1 :])


def test_noop_steps_are_correct_but_useless():
    steps = ["7+5=12", "12*1=12", "12+0=12", "7+5=12", "12*3=36", "36-4=32", "Answer: 32"]
    g = A.grade(PROMPT, "32", steps)
    assert g.correct and g.first_error == -1
    assert g.status == ["ok", "noop", "noop", "noop", "ok", "ok", "ok"]
    assert g.n_noop == 3


def test_corrupt_always_wrong_and_varied():
    rng = random.Random(0)
    firsts, kinds = set(), set()
    for p in A.generate(100, seed=1):
        steps, kind = A.corrupt(p["prompt"], rng)
        g = A.grade(p["prompt"], p["answer"], steps)
        kinds.add(kind)
        assert not g.correct and g.first_error >= 0
        firsts.add(g.first_error)
    assert kinds == set(A.MISTAKES)
    assert len(firsts) >= 3


@pytest.mark.parametrize(
    "steps,expected",
    [
        (["7+5=12", "12*3=36", "36-4=32", "Answer: 32"], [None, None, None, None]),
        # a slip, then correct work from the stated 13: only the slip is wrong
        (
            ["7+5=13", "13*3=39", "39-4=35", "Answer: 35"],
            ["arithmetic: 7+5 is 12, not 13"] + [None] * 3,
        ),
        # a wrong operand counts as the operation it replaced
        (
            ["7+6=13", "13*3=39", "Answer: 39"],
            [
                "applies +6, but the next operation is +5",
                None,
                "answers before finishing (1 operation(s) left)",
            ],
        ),
        # a skipped operation: the next step is judged against the one after it
        (
            ["7+5=12", "12-4=8", "Answer: 8"],
            [None, "applies -4, but the next operation is *3", None],
        ),
        (
            ["7+5=12", "12*1=12", "Answer: 12"],
            [None, None, "answers before finishing (2 operation(s) left)"],
        ),
        (
            ["7+5=12", "12*3=36", "36-4=32", "Answer: 32", "32+0=32"],
            [None] * 4 + ["step after the final answer"],
        ),
    ],
)
def test_local_errors_judge_each_step_against_the_stated_values(steps, expected):
    errs = A.local_errors(PROMPT, steps)
    assert errs == expected
    g = A.grade(PROMPT, "32", steps, partial=True)
    if g.first_error >= 0:  # up to the first error the two checkers agree
        assert errs[g.first_error] == g.reason
        assert all(e is None for e in errs[: g.first_error])


def test_local_rule_prm_scores_work_after_a_mistake():
    from prmkit.prm.base import RULE_PRMS
    from prmkit.worlds import gsm8k as G

    slip = ["7+5=13", "13*3=39", "39-4=35", "Answer: 35"]
    assert RULE_PRMS["rule"]().score([(PROMPT, slip)]) == [[0.0] * 4]
    assert RULE_PRMS["local-rule"]().score([(PROMPT, slip)]) == [[0.0, 1.0, 1.0, 1.0]]
    text = ["a <<2+2=5>>5", "b <<5*2=10>>10", "#### 10", "more"]
    assert G.local_errors("", text) == [
        G.check_step(text[0]),
        None,
        None,
        "step after the final answer",
    ]
    assert RULE_PRMS["local-rule"]("gsm8k").score([("q", text)]) == [[0.0, 1.0, 1.0, 0.0]]


def test_every_world_states_the_world_members():
    import inspect

    from prmkit.worlds import WORLDS, World

    members = [n for n in vars(World) if not n.startswith("_")]
    assert {"NAME", "TURNS", "grade", "extract_answer", "local_errors", "same_answer"} <= set(
        members + list(World.__annotations__)
    )
    for name, w in WORLDS.items():
        assert w.NAME == name and isinstance(w.TURNS, bool)
        assert isinstance(w.MAX_NEW_TOKENS, int) and w.MAX_NEW_TOKENS >= 1
        for fn in ("grade", "extract_answer", "local_errors", "same_answer"):
            assert callable(getattr(w, fn)), (name, fn)
        assert len(inspect.signature(w.same_answer).parameters) == 2
    assert [n for n, w in WORLDS.items() if w.TURNS] == ["toolqa"]
    assert A.same_answer(" 12", "12 ") and not A.same_answer("12", "13")
    assert WORLDS["gsm8k"].same_answer("1,000", "1000")
