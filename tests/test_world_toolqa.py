import json
import random

import pytest

from prmkit.cli import main
from prmkit.worlds import toolqa as T
from prmkit.worlds.toolqa import kb as K


def test_same_seed_same_world():
    d = T.Difficulty(min_hops=1, max_hops=5, calc_rate=0.5)
    ps = T.generate(60, seed=3, difficulty=d)
    assert ps == T.generate(60, seed=3, difficulty=d)
    assert ps != T.generate(60, seed=4, difficulty=d)
    assert K.build(7) == K.build.__wrapped__(7)  # rebuilt from scratch: identical
    calls = set()
    for p in ps:
        task = T.parse_prompt(p["prompt"])
        assert 1 <= task.hops <= 5 and p["meta"]["calls"] == len(task.required())
        calls.add(p["meta"]["calls"])
        g = T.grade(p["prompt"], p["answer"], T.solve(p["prompt"]))
        assert g.correct and set(g.status) == {"ok"}
        # the start name has a look-alike, and search returns both
        assert len(T.solve(p["prompt"])[0].split(";")) >= 2
    assert min(calls) == 3 and max(calls) == 8


def test_hops_knob_and_bad_difficulty():
    for p in T.generate(20, seed=0, difficulty=T.Difficulty(3, 3, 0.0)):
        assert p["meta"]["hops"] == 3 and p["meta"]["calls"] == 5
    with pytest.raises(ValueError):
        T.Difficulty(0, 2).check()
    with pytest.raises(ValueError):
        T.Difficulty(2, 6).check()


def _problem():
    for p in T.generate(50, seed=1, difficulty=T.Difficulty(3, 3, 1.0)):
        if "plus" in p["prompt"]:
            return p
    raise AssertionError("no 'plus' question")


def test_verifier_turn_by_turn():
    p = _problem()
    task = T.parse_prompt(p["prompt"])
    kb = K.build(task.kb_seed)
    gold = T.solve(p["prompt"])
    twin = K.twins(kb, task.path[0])[0]
    a = T.split_turn
    cases = [
        (gold, -1, None),
        (
            gold[:1] + [T.turn(kb, f"get[{twin}, {task.relations[0]}]")] + gold[2:],
            1,
            f"wrong entity: {twin} instead of {task.path[0]}",
        ),
        (
            gold[:2] + [T.turn(kb, f"get[{task.path[1]}, bogus]")] + gold[3:],
            2,
            f"wrong relation: 'bogus' instead of '{task.relations[1]}'",
        ),
        (
            gold[:4] + [T.turn(kb, f"calc[{task.value}+{task.operand + 1}]")] + gold[5:],
            4,
            f"calculation slip: {task.value}+{task.operand + 1} = {task.target + 1}, "
            f"not {task.target}",
        ),
        (gold[:2] + [T.turn(kb, f"answer[{task.target}]")], 2, "answers early (3 call(s) left)"),
        (gold[:-1] + [T.turn(kb, "answer[1]")], 5, f"answer '1' is not {task.target}"),
        (gold[:1] + [T.turn(kb, "lookup[x]")], 1, "unknown tool 'lookup'"),
        (gold[:1] + ["get P17 age"], 1, "malformed action 'get P17 age'"),
        (gold[:-1], 4, "ends without a final answer"),
        (gold + [gold[-1]], 6, "turn after the final answer"),
    ]
    for steps, first, reason in cases:
        g = T.grade(p["prompt"], p["answer"], steps)
        assert (g.first_error, g.reason) == (first, reason), steps
        assert g.correct == (first == -1)
    assert a("get[P1, age] => 40") == ("get[P1, age]", "40")


def test_redundant_lookup_is_a_noop_and_prefix_is_partial():
    p = _problem()
    gold = T.solve(p["prompt"])
    steps = gold[:3] + [gold[1], gold[0]] + gold[3:]
    g = T.grade(p["prompt"], p["answer"], steps)
    assert g.correct and g.status[3:5] == ["noop", "noop"] and g.n_noop == 2
    noisy = T.add_noop(p["prompt"], gold, random.Random(0))
    assert T.grade(p["prompt"], p["answer"], noisy).n_noop == 1
    assert T.grade(p["prompt"], p["answer"], gold[:3], partial=True).first_error == -1


@pytest.mark.parametrize("kind", T.MISTAKES)
def test_every_mistake_is_caught(kind):
    for i, p in enumerate(T.generate(30, seed=2)):
        steps, k = T.corrupt(p["prompt"], random.Random(i), kind)
        g = T.grade(p["prompt"], p["answer"], steps)
        assert k == kind and not g.correct and g.first_error >= 1
        word = {"entity": "wrong entity", "relation": "wrong relation", "early": "answers early"}
        if kind in word:
            assert g.reason.startswith(word[kind])
        else:
            assert "slip" in g.reason or "is not" in g.reason


def test_local_errors_judges_after_a_mistake():
    p = _problem()
    task = T.parse_prompt(p["prompt"])
    gold = T.solve(p["prompt"])
    kb = K.build(task.kb_seed)
    steps = gold[:1] + [T.turn(kb, "nope[1]")] + gold[1:]
    errs = T.local_errors(p["prompt"], steps)
    assert errs[1] == "unknown tool 'nope'" and errs[0] is None and errs[2:] == [None] * 5


def test_environment_never_raises():
    kb = K.build(0)
    eid = sorted(kb)[0]
    for action, expect in [
        ("fly[home]", "error: unknown tool 'fly'"),
        ("search(Bob)", "error: malformed action"),
        ("get[P00, age]", "error: no entity 'P00'"),
        (f"get[{eid}, color]", f"error: {eid} has no 'color'"),
        ("get[onlyone]", "error: get takes an id and a relation"),
        ("calc[2**99]", "error: only integers"),
        ("calc[(1+2]", "error: cannot parse"),
        ("calc[(2+3)*4]", "20"),
        ("search[Zzzzzzzzzz]", "no match"),
        ("answer[12]", "done"),
        ("search[x => y\n]", "error: malformed action"),
    ]:
        obs, done = K.observe(kb, action)
        assert obs.startswith(expect), (action, obs)
        assert " => " not in obs and "\n" not in obs
        assert done == action.startswith("answer")


def test_prompt_errors_are_value_errors():
    with pytest.raises(ValueError, match="not a toolqa-world prompt"):
        T.parse_prompt("Start with 7, then +5.")
    with pytest.raises(ValueError, match="no entity named"):
        T.parse_prompt("kb 1. From Nobody Here give the age.")


def test_cli_world_generate_toolqa(tmp_path, capsys):
    out = tmp_path / "q.jsonl"
    argv = ["world", "generate", "--world", "toolqa", "--n", "5", "--out", str(out)]
    assert main(argv + ["--min-hops", "4", "--max-hops", "4"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 5 and all(r["meta"]["hops"] == 4 for r in rows)
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["world"] == "toolqa"
    assert main(argv + ["--max-ops", "3"]) == 2
    assert "--max-ops does not apply to --world toolqa" in capsys.readouterr().err


def test_guess_world_knows_toolqa_questions():
    from prmkit.worlds import guess_world

    q = T.generate(1, seed=0)[0]["prompt"]
    assert guess_world(q) == "toolqa" and guess_world("Start with 7, then +5.") == "arithmetic"


def _twin_chain_meets(task) -> bool:
    """Whether following the question's relations from the start's look-alike reaches
    an entity of the right chain: a wrong pick that can still answer right."""
    kb = task.knowledge()
    for twin in K.twins(kb, task.path[0]):
        cur = twin
        for k, rel in enumerate(task.relations, 1):
            cur = kb[cur].fact(rel)
            if cur == task.path[k]:
                return True
    return False


def test_kb_scale_grows_the_world_and_keeps_scale_1():
    d1, d4 = T.Difficulty(3, 4, 0.5), T.Difficulty(3, 4, 0.5, kb_scale=4)
    assert T.generate(5, seed=2, difficulty=d1) == T.generate(
        5, seed=2, difficulty=T.Difficulty(3, 4)
    )
    small, big = K.build(5), K.build(5, 4)
    for kb in (small, big, K.build(6, 6)):  # the pairwise pass equals one search per entity
        by_search = [e for e in sorted(kb.values(), key=lambda e: e.id) if K.twins(kb, e.id)]
        assert K.with_lookalikes(kb) == by_search and by_search
    for kind, n in K.COUNTS.items():
        assert sum(e.kind == kind for e in small.values()) == n
        assert sum(e.kind == kind for e in big.values()) == 4 * n
    ps = T.generate(200, seed=2, difficulty=d4)
    for p in ps[:30]:
        assert p["prompt"].startswith(f"kb {p['meta']['kb']}x4. ") and p["meta"]["kb_scale"] == 4
        g = T.grade(p["prompt"], p["answer"], T.solve(p["prompt"]))
        assert g.correct and set(g.status) == {"ok"}
        env = T.environment(p["prompt"])  # the environment reads the scale from the prompt
        obs = env(T.solve(p["prompt"])[0].split(T.TURN_SEP)[0])[0]
        assert obs == T.solve(p["prompt"])[0].split(T.TURN_SEP)[1]
    meets = [
        sum(_twin_chain_meets(T.parse_prompt(p["prompt"])) for p in q)
        for q in (T.generate(200, seed=2, difficulty=d1), ps)
    ]
    assert meets[1] < meets[0] / 2, meets
    with pytest.raises(ValueError, match="kb_scale"):
        T.Difficulty(kb_scale=7).check()
    with pytest.raises(ValueError, match="scale"):
        K.build(1, 0)
    with pytest.raises(ValueError, match=r"in kb 1$"):  # scale 1 is named as its prompts read
        T.parse_prompt("kb 1. From Nobody Here give the age.")
    with pytest.raises(ValueError, match=r"in kb 1x4$"):
        T.parse_prompt("kb 1x4. From Nobody Here give the age.")


def test_cli_world_generate_kb_scale(tmp_path, capsys):
    out = tmp_path / "q.jsonl"
    argv = ["world", "generate", "--world", "toolqa", "--n", "3", "--out", str(out)]
    assert main(argv + ["--kb-scale", "3"]) == 0
    assert all("x3. From" in json.loads(x)["prompt"] for x in out.read_text().splitlines())
    capsys.readouterr()
    assert main(argv + ["--kb-scale", "7"]) == 2
    assert "--kb-scale must lie in [1, 6]" in capsys.readouterr().err
    assert main(["world", "generate", "--n", "3", "--out", str(out), "--kb-scale", "2"]) == 2
    assert "--kb-scale does not apply to --world arithmetic" in capsys.readouterr().err
