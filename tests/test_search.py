"""Search: aggregators, selection rules, curves, compute accounting, every method.

Most tests use a scripted policy (pure Python, no model): each step is right with
probability p_ok, else an arithmetic slip whose error carries to the answer. With it,
the expected behaviour of each method under the exact rule PRM is known.
"""

import math
import random

import pytest

from prmkit.data import InputError, Problem
from prmkit.models.generator import Generation, TextGenerator
from prmkit.models.steps import render
from prmkit.prm.base import RulePRM
from prmkit.search import (
    METHODS,
    NoisyRulePRM,
    SearchRecord,
    SearchSettings,
    aggregate,
    load_scorer,
    points,
    run_search,
    summarize,
)
from prmkit.search.sampled import Pool, curve_sizes, pool_curve, sample_pools
from prmkit.search.select import pick_best, pick_vote, pick_weighted
from prmkit.worlds import arithmetic as A


class ScriptedPolicy(TextGenerator):
    """Solves arithmetic-world problems step by step; each step is right w.p. p_ok.

    A token is a character (plus one end-of-sequence token when a full solution ends).
    """

    step_sep = "\n"

    def __init__(self, p_ok: float = 0.7) -> None:
        self.p_ok = p_ok
        self.calls: list[tuple[int, int, bool]] = []  # (prompts, n, stop_at_step)

    def _next(self, prompt: str, steps: list[str], rng: random.Random) -> str:
        v, ops = A.parse_prompt(prompt)
        work = [s for s in steps if not s.startswith("Answer")]
        if work:
            v = int(work[-1].split("=")[1])
        if len(work) >= len(ops):
            return f"Answer: {v}"
        op, b = ops[len(work)]
        c = A.apply(v, op, b)
        if rng.random() > self.p_ok:
            c += rng.choice([-2, -1, 1, 2])
        return f"{v}{op}{b}={c}"

    def generate(self, prompts, params):
        self.calls.append((len(prompts), params.n, params.stop_at_step))
        rng = random.Random(params.seed)
        out = []
        for text in prompts:
            prompt, *prev = text.split("\n")[:-1]
            gens = []
            for _ in range(params.n):
                steps, new = list(prev), []
                while True:
                    step = self._next(prompt, steps, rng)
                    steps.append(step)
                    new.append(step)
                    if params.stop_at_step or step.startswith("Answer"):
                        break
                body = "".join(s + "\n" for s in new)
                finished = not params.stop_at_step
                gens.append(
                    Generation(
                        body,
                        new,
                        list(range(len(body) + finished)),
                        [0.0] * (len(body) + finished),
                        finished,
                    )
                )
            out.append(gens)
        return out


def problems(k=30, seed=3):
    d = A.Difficulty(min_ops=3, max_ops=3)
    return [Problem.from_dict(p) for p in A.generate(k, seed=seed, difficulty=d)]


# --- pure functions -------------------------------------------------------------


def test_aggregators_by_hand():
    s = [0.9, 0.5, 0.8]
    assert aggregate("min", s) == 0.5
    assert aggregate("prod", s) == pytest.approx(0.36)
    assert aggregate("last", s) == 0.8
    assert aggregate("mean", s) == pytest.approx(2.2 / 3)
    assert all(aggregate(a, []) == 0.0 for a in ("min", "prod", "last", "mean"))
    with pytest.raises(ValueError):
        aggregate("max", s)


def test_selection_rules_by_hand():
    answers = ["5", "7", "7", None, "5", "7"]
    scores = [0.9, 0.2, 0.3, 1.0, 0.8, 0.1]
    # best-of-N never picks a candidate without an answer while one has an answer
    assert pick_best(answers, scores) == 0
    assert pick_best([None, None], [0.1, 0.9]) == 1
    assert pick_vote(answers) == 1  # "7" x3 beats "5" x2; the first "7"
    # weighted: "5" = 1.7, "7" = 0.6 -> "5", its best-scored candidate
    assert pick_weighted(answers, scores) == 0
    # ties go to the answer seen first, then the earliest candidate
    assert pick_vote(["3", "4", "4", "3"]) == 0
    assert pick_weighted(["3", "4"], [0.5, 0.5]) == 0


def test_curve_subsampling_matches_expectation():
    prob = problems(1)[0]
    from prmkit.grade import graded_sample

    good, bad = A.solve(prob.prompt), A.solve(prob.prompt)[:-1] + ["Answer: 999"]
    samples = [graded_sample(prob, good if i < 2 else bad, str(i)) for i in range(8)]
    pool = Pool(prob, samples, [10 + i for i in range(8)], None, [3] * 8)
    assert curve_sizes(8) == [1, 2, 4, 8] and curve_sizes(6) == [1, 2, 4, 6]
    c = pool_curve("vote", pool, None, 4000, random.Random(0))
    # one sample is right w.p. 2/8; at N=8 the wrong answer (6 votes) wins
    assert c["1"]["accuracy"] == pytest.approx(0.25, abs=0.03)
    assert c["8"] == {"accuracy": 0.0, "tokens": sum(range(10, 18)), "prm_tokens": 0.0}
    assert c["4"]["tokens"] == pytest.approx(4 * 13.5, rel=0.02)
    # an oracle score finds a right one whenever the subset holds one
    oracle = [1.0 if s.correct else 0.0 for s in samples]
    c = pool_curve("bon", pool, oracle, 4000, random.Random(0))
    assert c["2"]["accuracy"] == pytest.approx(1 - (6 / 8) * (5 / 7), abs=0.03)
    assert c["8"]["accuracy"] == 1.0 and c["8"]["prm_tokens"] == 24


def test_noisy_rule_prm_is_consistent_and_ordered():
    prompt = "Start with 7, then +5, *3, -4."
    good, bad = A.solve(prompt), ["7+5=12", "12*3=35", "35-4=31", "Answer: 31"]
    exact = NoisyRulePRM(sigma=0.0)
    g, b = exact.score([(prompt, good), (prompt, bad)])
    assert all(x == pytest.approx(1 / (1 + math.exp(-2))) for x in g)
    assert b[0] > 0.5 > b[1]
    noisy = NoisyRulePRM(sigma=1.5, seed=1)
    full = noisy.score([(prompt, good)])[0]
    # a prefix gets the same scores whenever it is scored
    assert noisy.score([(prompt, good[:2])])[0] == full[:2]
    assert NoisyRulePRM(sigma=1.5, seed=2).score([(prompt, good)])[0] != full
    assert len({round(x, 6) for x in full}) > 1


def test_load_scorer_specs():
    assert isinstance(load_scorer("rule"), RulePRM)
    s = load_scorer("noisy-rule:0.5:3")
    assert isinstance(s, NoisyRulePRM) and s.sigma == 0.5 and s.seed == 3
    for bad in ("noisy-rule:abc", "noisy-rule:-1", "noisy-rule:1:2:3"):
        with pytest.raises(InputError):
            load_scorer(bad)
    with pytest.raises(InputError, match="no such PRM directory"):
        load_scorer("/some/prm/dir")


# --- methods with the scripted policy -------------------------------------------


def _run(method, scorer, n=8, p_ok=0.6, k=30, **kw):
    pol = ScriptedPolicy(p_ok)
    recs, secs = run_search(
        method, pol, scorer, problems(k), SearchSettings(n=n, seed=1, curve_draws=8, **kw)
    )
    return recs, pol


def test_sampled_methods_share_a_pool_and_count_compute():
    rule = RulePRM()
    bon, _ = _run("bon", rule)
    vote, _ = _run("vote", None)
    wv, _ = _run("weighted-vote", rule)
    for a, b in zip(bon, vote):
        assert a.tokens == b.tokens  # same seed, same pool
        assert b.prm_tokens == 0 and a.prm_tokens > 0
    pol = ScriptedPolicy(0.6)
    pools = sample_pools(pol, rule, problems(30), SearchSettings(n=8, seed=1))
    for r, pool in zip(bon, pools):
        # tokens: every generated token; PRM tokens: the characters it read
        assert r.tokens == sum(len("".join(s + "\n" for s in x.steps)) + 1 for x in pool.samples)
        assert r.prm_tokens == sum(len(render(pool.problem.prompt, x.steps)) for x in pool.samples)
        # the exact PRM makes best-of-N an oracle: right whenever any sample is right
        assert r.correct == r.meta["pass_at_n"] == any(x.correct for x in pool.samples)
        assert set(r.curve) == {"1", "2", "4", "8"}
    acc = {
        name: sum(r.correct for r in rs) / len(rs)
        for name, rs in (("bon", bon), ("vote", vote), ("wv", wv))
    }
    assert acc["bon"] == acc["wv"] > acc["vote"]
    assert all(r.label == "bon-min" for r in bon) and vote[0].label == "vote"


def test_beam_batches_steps_and_beats_bon_with_exact_prm():
    rule = RulePRM()
    beam, pol = _run("beam", rule, n=8, expand=4)
    bon, _ = _run("bon", rule, n=8)
    # one batched call per round, across all problems; the first round proposes B*M
    assert pol.calls[0] == (30, 8, True)
    assert all(c[1] == 4 and c[2] for c in pol.calls[1:])
    assert len(pol.calls) <= 5  # 3 operations + the answer
    acc_beam = sum(r.correct for r in beam) / 30
    assert acc_beam >= sum(r.correct for r in bon) / 30
    assert acc_beam >= 0.9
    for r in beam:
        assert r.meta["beams"] == 2 and r.candidates <= 2 and r.tokens > 0 and r.prm_tokens > 0
        assert r.score is not None and r.label == "beam-min M=4"


def test_beam_subtrees_search_independently_and_pool_their_answers():
    rule = RulePRM()
    dvts, pol = _run("beam", rule, n=8, expand=2, subtrees=4)
    # 4 subtrees of one beam per problem, each proposing M=2 from the empty solution
    assert pol.calls[0] == (30 * 4, 2, True)
    assert all(c[1] == 2 and c[2] for c in pol.calls[1:])
    assert sum(r.correct for r in dvts) / 30 >= 0.9
    for r in dvts:
        assert r.label == "beam-min M=2 K=4" and r.meta["subtrees"] == 4
        assert r.meta["beams"] == 4 and 1 <= r.candidates <= 4
    # the tokens of all subtrees are charged to their problem
    single, _ = _run("beam", rule, n=2, expand=2)
    assert sum(r.tokens for r in dvts) > 3 * sum(r.tokens for r in single)
    # more subtrees than beams: one beam each
    capped, _ = _run("beam", rule, n=8, expand=4, subtrees=9)
    assert all(r.meta["subtrees"] == 2 and r.meta["beams"] == 2 for r in capped)


def test_reject_stops_low_candidates_early():
    rule = RulePRM()
    rej, pol = _run("reject", rule, n=8, keep=0.25, reject_after=2)
    bon, _ = _run("bon", rule, n=8)
    assert pol.calls[0] == (30, 8, True) and pol.calls[1] == (30 * 8, 1, True)
    assert pol.calls[2] == (30 * 2, 1, False)  # only 2 of 8 continue to the end
    assert sum(r.tokens for r in rej) < 0.7 * sum(r.tokens for r in bon)
    assert all(r.candidates == 2 and r.meta["kept"] == 2 for r in rej)
    # the exact PRM only rejects candidates already wrong, so little accuracy is lost
    assert sum(r.correct for r in rej) >= sum(r.correct for r in bon) - 3


def test_methods_need_a_prm_and_mapping_is_complete():
    assert set(METHODS) == {"bon", "vote", "weighted-vote", "beam", "reject"}
    for m in ("bon", "weighted-vote", "beam", "reject"):
        with pytest.raises(ValueError, match="needs a PRM"):
            _run(m, None, k=2)


def test_points_pool_seeds_and_summary():
    recs = [
        SearchRecord("a", "beam", "beam-min M=4", 8, "1", True, [], 0.9, 100, 50, 2),
        SearchRecord("b", "beam", "beam-min M=4", 8, "2", False, [], 0.1, 300, 70, 2),
        SearchRecord(
            "a",
            "vote",
            "vote",
            4,
            "1",
            True,
            [],
            None,
            40,
            0,
            4,
            curve={
                "1": {"accuracy": 0.5, "tokens": 10, "prm_tokens": 0},
                "4": {"accuracy": 1.0, "tokens": 40, "prm_tokens": 0},
            },
        ),
    ]
    pts = points(recs)
    assert pts["beam-min M=4"] == {
        8: {"accuracy": 0.5, "tokens": 200.0, "prm_tokens": 60.0, "problems": 2}
    }
    assert pts["vote"][1]["accuracy"] == 0.5 and pts["vote"][4]["tokens"] == 40
    s = summarize(recs[:2], 1.234)
    assert (
        s["accuracy"] == 0.5
        and s["tokens"] == 400
        and s["prm_tokens_per_problem"] == 60
        and s["seconds"] == 1.23
    )
    assert SearchRecord.from_dict(recs[2].to_dict()) == recs[2]


def test_goals_look_at_every_beam_label():
    from prmkit.search.curves import goals

    pt = lambda acc, tok: {"accuracy": acc, "tokens": tok, "prm_tokens": 0}  # noqa: E731
    pts = {
        "vote": {16: pt(0.70, 500)},
        "bon-min": {16: pt(0.80, 500)},
        "weighted-vote-min": {16: pt(0.86, 500)},
        "beam-min M=2 K=2": {4: pt(0.79, 120)},
        "beam-min M=2 K=3": {6: pt(0.81, 190)},
        "beam-min M=2 K=4": {8: pt(0.83, 250)},
        "beam-prod M=4": {4: pt(0.99, 100)},  # another aggregator: not this goal's beam
    }
    g = goals(pts, "min", n=16)
    assert g["weighted_vote_margin"] == {
        "weighted_vote": 0.86,
        "vote": 0.70,
        "points": 16.0,
        "met": True,
    }
    b = g["beam_vs_bon"]
    # the cheapest beam that reaches 0.80 is K=3 (190 tokens), not the first label
    assert (b["beam_label"], b["beam_n"], b["token_ratio"], b["met"]) == (
        "beam-min M=2 K=3",
        6,
        0.38,
        True,
    )
    assert b["best_beam"]["label"] == "beam-min M=2 K=4" and b["best_beam"]["n"] == 8
    only = goals(pts, "min", beam_label="beam-min M=2 K=2", n=16)["beam_vs_bon"]
    assert only["beam_n"] is None and not only["met"]


def test_prm_tokens_use_the_scorers_own_count():
    from prmkit.models.gpt import GPTConfig
    from prmkit.prm.models import BuiltinStepModel
    from prmkit.prm.scoring import ModelScorer
    from prmkit.search.core import prm_input_tokens

    items = [("Start with 2, then +1.", ["2+1=3", "Answer: 3"])]
    assert prm_input_tokens(RulePRM(), items) == [len("Start with 2, then +1.\n2+1=3\nAnswer: 3\n")]
    model = BuiltinStepModel.new(GPTConfig(block_size=64, n_layer=1, n_head=1, d_model=8))
    want = len(model.encode(*items[0]).input_ids)  # BOS, the text and a tag after each step
    assert prm_input_tokens(ModelScorer(model), items) == [want] and want > len(items[0][0])


def test_finished_paths_chosen_by_best_score_or_weighted_vote():
    """select="best" takes the top path (answer 10, score 0.7); select="weighted" takes
    answer 11, whose two paths total 0.8, and returns the better of those two."""
    from prmkit.search.paths import Ledger, Path, finish_records

    prob = Problem("p", "Start with 5, then +6.", "11")
    cands = [
        Path(0, ["5+6=10", "Answer: 10"], [0.7, 0.7], done=True),
        Path(0, ["5+6=11", "Answer: 11"], [0.5, 0.4], done=True),
        Path(0, ["5+6=11", "Answer: 11"], [0.4, 0.6], done=True),
    ]

    class Fixed:
        kind = "test"

    def chosen(select):
        s = SearchSettings(select=select)
        (r,) = finish_records("beam", "b", [prob], [cands], Fixed(), s, Ledger.new(1))
        return r.answer, r.correct, r.score, r.label

    assert chosen("best") == ("10", False, 0.7, "b")
    assert chosen("weighted") == ("11", True, 0.4, "b wv")
    with pytest.raises(ValueError, match="--select"):
        SearchSettings(select="vote").check()
    with pytest.raises(ValueError, match="--subtrees"):
        SearchSettings(subtrees=0).check()
